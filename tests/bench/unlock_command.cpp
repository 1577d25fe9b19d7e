// fieldcase-bench unlock: the time to unlock a vault with its PIN at the device's default
// Argon2id cost (the key derivation dominates), reported apart from the storage workloads.
#include <iomanip>
#include <iostream>

#include "bench.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/vault.hpp"
#include "unlock_bench.hpp"

namespace fieldcase::bench {

int run_unlock_command(Args args) {
  int runs = 7;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout << "usage: fieldcase-bench unlock [--runs N]\n\n"
                     "Creates a vault at the device default Argon2id cost (3 passes over 64 MiB)\n"
                     "and times Vault::unlock with the right PIN; prints the median in ms.\n";
        return kExitOk;
      } else if (args[i] == "--runs" && i + 1 < args.size()) {
        runs = parse_positive(args[++i], "--runs");
      } else {
        throw UsageError("unknown option '" + std::string(args[i]) + "'");
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench unlock: " << e.what()
              << "\nTry 'fieldcase-bench unlock --help'.\n";
    return kExitUsage;
  }
  ScratchDir dir({}, "fieldcase-bench-unlock");
  platform::FileKeyStore keys(dir.path() / "keys");
  VaultOptions o;
  o.database = dir.path() / "worker.db";
  o.keystore = &keys;
  o.kdf = KdfCost::device_default();
  auto vault = Vault::create(o, "246813");
  if (!vault.ok()) {
    std::cerr << "fieldcase-bench unlock: " << vault.status().to_string() << "\n";
    return kExitFailure;
  }
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    (*vault)->lock();
    Stopwatch sw(Clock::wall);
    Status st = (*vault)->unlock("246813");
    ms.push_back(sw.elapsed_ms());
    if (!st.ok()) {
      std::cerr << "fieldcase-bench unlock: " << st.to_string() << "\n";
      return kExitFailure;
    }
  }
  std::cout << "unlock (Argon2id 3 passes, 64 MiB) median " << std::fixed << std::setprecision(1)
            << median(ms) << " ms over " << runs << " runs\n";
  return kExitOk;
}

}  // namespace fieldcase::bench
