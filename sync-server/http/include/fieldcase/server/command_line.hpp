// The command line of the server's programs (fieldcase-server, fieldcase-demo): "--name value"
// or "--name=value" options of names the command accepts, the flags --quiet/-q and --help/-h,
// and positional words; and the settings such a command runs with. Value types.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/server/config.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct CommandLine {
  std::vector<std::string> words;
  std::map<std::string, std::string> values;
  bool quiet = false;
  bool help = false;

  // The option's value; "" when it was not given.
  std::string value(const std::string& name) const;
};

// Parses argv[first..argc). Errc::invalid_argument names an option not in `valued`, or one
// given without a value.
Status parse_command_line(int argc, char** argv, int first,
                          const std::vector<std::string_view>& valued, CommandLine& out);

// The settings: defaults, then the config file ($FIELDCASE_CONFIG, or --config), then the
// FIELDCASE_* environment, then the --listen and --database options when given.
Status load_server_config(const CommandLine& args, ServerConfig& config);

}  // namespace fieldcase::server
