// The environment a test gives a child process: this process's own, with `extra` entries
// ("NAME=value") added, each replacing a variable of the same name.
#pragma once

#include <string>
#include <vector>

extern char** environ;

namespace fieldcase::test {

inline std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || name_of(x) == name_of(entry);
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace fieldcase::test
