#include "fieldcase/server/command_line.hpp"

#include <algorithm>
#include <cstdlib>

namespace fieldcase::server {

std::string CommandLine::value(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::string() : it->second;
}

Status parse_command_line(int argc, char** argv, int first,
                          const std::vector<std::string_view>& valued, CommandLine& out) {
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quiet" || arg == "-q") {
      out.quiet = true;
    } else if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else if (arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      std::string value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return {Errc::invalid_argument, "option --" + name + " needs a value"};
      }
      if (std::find(valued.begin(), valued.end(), name) == valued.end()) {
        return {Errc::invalid_argument, "unknown option --" + name};
      }
      out.values[name] = value;
    } else {
      out.words.push_back(arg);
    }
  }
  return {};
}

Status load_server_config(const CommandLine& args, ServerConfig& config) {
  std::string file;
  if (const char* env = std::getenv("FIELDCASE_CONFIG")) file = env;
  if (auto given = args.values.find("config"); given != args.values.end()) file = given->second;
  if (!file.empty()) FC_TRY(load_config_file(file, config));
  FC_TRY(apply_environment(config, [](const char* name) { return std::getenv(name); }));
  for (const char* key : {"listen", "database"}) {
    if (auto given = args.values.find(key); given != args.values.end()) {
      FC_TRY(set_config_value(config, key, given->second));
    }
  }
  return {};
}

}  // namespace fieldcase::server
