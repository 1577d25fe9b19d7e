// fieldcase-bench capi: the cost of the C API and of the Java binding over recording a visit
// directly through the C++ core. The same workload on three devices in one run: a visit with
// three draft notes written as one local transaction through RecordStore::write (C++), through
// fc_device_write with the operations as JSON (C), and through org.fieldcase.Device.write from
// a JVM over JNI (a child process driven in lockstep, when the Java binding is built).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench.hpp"
#include "capi_bench.hpp"
#include "check.hpp"
#include "fieldcase.h"
#include "fieldcase/device_session.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"

extern char** environ;

namespace fieldcase::bench {
namespace {

constexpr std::string_view kWorker = "0189a000-0000-7000-8000-000000000001";
constexpr int kChildren = 40;

struct Visit {
  std::string at = format_iso_datetime(std::chrono::system_clock::now() - std::chrono::hours(24));
  std::string observations = std::string(600, 'v');
  std::string note = std::string(400, 't');
};

Fields child_fields(int n) {
  return {{"local_id", "C" + std::to_string(1000 + n)},
          {"first_name", std::string("Child")},
          {"last_name", "Number" + std::to_string(n)},
          {"date_of_birth", std::string("2015-03-02")},
          {"gender", std::string("1")},
          {"allocated_worker", std::string(kWorker)}};
}

std::string child_json(int n) {
  return "{\"local_id\": \"C" + std::to_string(1000 + n) +
         "\", \"first_name\": \"Child\", \"last_name\": \"Number" + std::to_string(n) +
         "\", \"date_of_birth\": \"2015-03-02\", \"gender\": \"1\", \"allocated_worker\": \"" +
         std::string(kWorker) + "\"}";
}

// The C++ path: the core's own types.
Status record_visit_cpp(RecordStore& records, const std::string& case_id, const Visit& v) {
  return records.write([&](RecordStore::Writer& w) -> Status {
    auto visit = w.create(RecordKind::visit, case_id,
                          {{"visit_type", std::string("child_in_need")},
                           {"start_at", v.at},
                           {"end_at", v.at},
                           {"child_seen", true},
                           {"child_seen_alone", true},
                           {"observations", v.observations}});
    if (!visit.ok()) return visit.status();
    for (int n = 0; n < 3; ++n) {
      auto note = w.create(RecordKind::case_note, case_id,
                           {{"contact_at", v.at},
                            {"text", v.note},
                            {"status", std::string("draft")},
                            {"visit_id", *visit}});
      if (!note.ok()) return note.status();
    }
    return {};
  });
}

// The C path: the operations as the app builds them, as JSON text.
std::string visit_ops(const std::string& case_id, const Visit& v) {
  std::string ops;
  ops.reserve(4096);
  ops += R"([{"op":"create","kind":"visit","case_id":")" + case_id +
         R"(","ref":"v","fields":{"visit_type":"child_in_need","start_at":")" + v.at +
         R"(","end_at":")" + v.at +
         R"(","child_seen":true,"child_seen_alone":true,"observations":")" + v.observations +
         "\"}}";
  for (int n = 0; n < 3; ++n) {
    ops += R"(,{"op":"create","kind":"case_note","case_id":")" + case_id +
           R"(","links":{"visit_id":"v"},"fields":{"contact_at":")" + v.at + R"(","text":")" +
           v.note + R"(","status":"draft"}})";
  }
  ops += "]";
  return ops;
}

void record_visit_c(fc_device* device, const std::string& case_id, const Visit& v) {
  fc_error err;
  char* ids = fc_device_write(device, visit_ops(case_id, v).c_str(), &err);
  if (ids == nullptr) throw std::runtime_error(std::string("fc_device_write: ") + err.message);
  fc_string_release(ids);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

// The Java side: a JVM running org.fieldcase.test.Bench, driven a visit at a time so that its
// measurements interleave with the in-process ones (same load on the machine for all three).
class Jvm {
 public:
  Jvm(const std::filesystem::path& dir, int history, int warmup) {
#if defined(FIELDCASE_BENCH_JAVA)
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) {
      posix_spawn_file_actions_addclose(&fa, fd);
    }
    std::vector<std::string> args{FIELDCASE_BENCH_JAVA,
                                  std::string("-Djava.library.path=") + FIELDCASE_BENCH_JNI_DIR,
                                  "-cp",
                                  FIELDCASE_BENCH_CLASSPATH,
                                  "org.fieldcase.test.Bench",
                                  dir.string(),
                                  std::to_string(kChildren),
                                  std::to_string(history),
                                  std::to_string(warmup)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(to_child[0]);
    close(from_child[1]);
    if (rc != 0) {
      close(to_child[1]);
      close(from_child[0]);
      throw std::runtime_error("cannot start java");
    }
    in_ = fdopen(from_child[0], "r");
    out_ = fdopen(to_child[1], "w");
    if (line() != "ready") throw std::runtime_error("the Java benchmark did not start");
    available_ = true;
#else
    (void)dir;
    (void)history;
    (void)warmup;
#endif
  }
  ~Jvm() {
    if (out_ != nullptr) {
      std::fputs("q\n", out_);
      std::fclose(out_);
    }
    if (in_ != nullptr) std::fclose(in_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  Jvm(const Jvm&) = delete;
  Jvm& operator=(const Jvm&) = delete;

  bool available() const { return available_; }
  // Records one visit in the JVM; the wall and CPU milliseconds it measured there.
  std::pair<double, double> record_visit() {
    std::fputs("v\n", out_);
    std::fflush(out_);
    const std::string ms = line();
    const auto space = ms.find(' ');
    if (space == std::string::npos) throw std::runtime_error("the Java benchmark stopped");
    return {std::stod(ms.substr(0, space)), std::stod(ms.substr(space + 1))};
  }

 private:
  std::string line() {
    std::array<char, 128> buf{};
    if (in_ == nullptr || std::fgets(buf.data(), static_cast<int>(buf.size()), in_) == nullptr) {
      return {};
    }
    std::string text(buf.data());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
  bool available_ = false;
};

}  // namespace

int run_capi_command(Args args) {
  bool quick = false, json = false, java = true;
  std::filesystem::path dir;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        std::cout
            << "usage: fieldcase-bench capi [--quick] [--json] [--no-java] [--dir DIR]\n\n"
               "Records a visit with three notes as one transaction through the C++ core, the C\n"
               "API (fc_device_write, operations as JSON) and the Java binding over JNI, on three\n"
               "encrypted devices with the same 40-child caseload, taking turns visit by visit\n"
               "(the JNI path in a JVM this program drives). Reports p50 and p99 in ms and each\n"
               "path's p50 over the C++ one, in wall time and in CPU time.\n";
        return kExitOk;
      } else if (args[i] == "--quick") {
        quick = true;
      } else if (args[i] == "--json") {
        json = true;
      } else if (args[i] == "--no-java") {
        java = false;
      } else if (args[i] == "--dir" && i + 1 < args.size()) {
        dir = std::string(args[++i]);
      } else {
        throw UsageError("unknown option '" + std::string(args[i]) + "'");
      }
    }
  } catch (const UsageError& e) {
    std::cerr << "fieldcase-bench capi: " << e.what() << "\nTry 'fieldcase-bench capi --help'.\n";
    return kExitUsage;
  }
  try {
    if (!crypto_init().ok()) throw std::runtime_error("libsodium");
    ScratchDir scratch(dir, "fieldcase-bench-capi");
    const int visits = quick ? 100 : 1000;
    const int history = quick ? 200 : 1000;  // visits already on each device
    const int warmup = 100;
    const Visit v;

    // C++: DeviceSession and its RecordStore, the stack the C API wraps.
    platform::FileKeyStore keys(scratch.path() / "cpp-keys");
    DeviceSessionOptions so;
    so.database = scratch.path() / "cpp.db";
    so.services.keystore = &keys;
    so.identity = Identity{std::string(kWorker), "bench-cpp"};
    so.kdf = KdfCost::minimum();
    auto session = check(DeviceSession::setup(so, "246813", SetupRequest{}), "session");
    RecordStore* records = check(session->records(), "records");
    std::vector<std::string> cpp_cases;
    for (int c = 0; c < kChildren; ++c) {
      cpp_cases.push_back(check(records->create(RecordKind::child, "", child_fields(c)), "child"));
    }

    // C: fc_device with the Linux default services.
    const std::string c_db = (scratch.path() / "c.db").string();
    const std::string c_keys = (scratch.path() / "c-keys").string();
    fc_device_config config;
    fc_device_config_init(&config);
    config.database = c_db.c_str();
    config.keystore_dir = c_keys.c_str();
    config.worker_id = kWorker.data();
    config.device_id = "bench-c";
    config.kdf = FC_KDF_MINIMUM;
    fc_error err;
    std::unique_ptr<fc_device, void (*)(fc_device*)> device(fc_device_create(&config, "246813", &err),
                                                            fc_device_release);
    if (!device) throw std::runtime_error(std::string("fc_device_create: ") + err.message);
    std::vector<std::string> c_cases;
    for (int c = 0; c < kChildren; ++c) {
      char* id =
          fc_device_create_record(device.get(), "child", nullptr, child_json(c).c_str(), &err);
      if (id == nullptr) throw std::runtime_error(std::string("child: ") + err.message);
      c_cases.emplace_back(id);
      fc_string_release(id);
    }

    for (int i = 0; i < history + warmup; ++i) {
      const auto c = static_cast<std::size_t>(i % kChildren);
      check(record_visit_cpp(*records, cpp_cases[c], v), "history");
      record_visit_c(device.get(), c_cases[c], v);
    }
    std::unique_ptr<Jvm> jvm;
    if (java) jvm = std::make_unique<Jvm>(scratch.path() / "jni", history, warmup);
    // Wall time (the goal) and CPU time: this process's for C++ and C (one thread does the
    // work), the calling thread's in the JVM (which runs compiler and GC threads besides).
    std::vector<double> cpp_ms, c_ms, jni_ms, cpp_cpu, c_cpu, jni_cpu;
    for (int i = 0; i < visits; ++i) {
      const auto c = static_cast<std::size_t>(i % kChildren);
      Stopwatch sw(Clock::wall), cpu(Clock::cpu);
      check(record_visit_cpp(*records, cpp_cases[c], v), "record visit");
      cpp_ms.push_back(sw.elapsed_ms());
      cpp_cpu.push_back(cpu.elapsed_ms());
      sw.restart();
      cpu.restart();
      record_visit_c(device.get(), c_cases[c], v);
      c_ms.push_back(sw.elapsed_ms());
      c_cpu.push_back(cpu.elapsed_ms());
      if (jvm && jvm->available()) {
        const auto [wall, thread_cpu] = jvm->record_visit();
        jni_ms.push_back(wall);
        jni_cpu.push_back(thread_cpu);
      }
    }
    jvm.reset();

    const double base = percentile(cpp_ms, 0.5), cpu_base = percentile(cpp_cpu, 0.5);
    nlohmann::json out = nlohmann::json::array();
    auto add = [&](const char* path, const std::vector<double>& ms,
                   const std::vector<double>& cpu) {
      const double p50 = percentile(ms, 0.5), cpu50 = percentile(cpu, 0.5);
      out.push_back({{"workload", "record_visit"},
                     {"path", path},
                     {"p50_ms", p50},
                     {"p99_ms", percentile(ms, 0.99)},
                     {"cpu_p50_ms", cpu50},
                     {"runs", ms.size()},
                     {"ratio_p50", base > 0 ? p50 / base : 0},
                     {"ratio_cpu_p50", cpu_base > 0 ? cpu50 / cpu_base : 0}});
    };
    add("cpp", cpp_ms, cpp_cpu);
    add("c", c_ms, c_cpu);
    if (!jni_ms.empty()) add("jni", jni_ms, jni_cpu);
    if (json) {
      std::cout << nlohmann::json{{"results", out}}.dump() << "\n";
    } else {
      std::cout << "workload       path    p50 ms    p99 ms  cpu p50 ms   runs   p50 / C++"
                   "   cpu / C++\n";
      for (const auto& r : out) {
        std::cout << std::left << std::setw(15) << r["workload"].get<std::string>() << std::setw(6)
                  << r["path"].get<std::string>() << std::right << std::fixed
                  << std::setprecision(3) << std::setw(9) << r["p50_ms"].get<double>()
                  << std::setw(10) << r["p99_ms"].get<double>() << std::setw(12)
                  << r["cpu_p50_ms"].get<double>() << std::setw(7) << r["runs"].get<std::size_t>()
                  << std::setprecision(2) << std::setw(12) << r["ratio_p50"].get<double>()
                  << std::setw(12) << r["ratio_cpu_p50"].get<double>() << "\n";
      }
      if (jni_ms.empty()) {
        std::cout << (java ? "(jni: the Java binding is not built in this configuration)\n"
                           : "(jni: skipped, --no-java)\n");
      }
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::cerr << "fieldcase-bench capi: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace fieldcase::bench
