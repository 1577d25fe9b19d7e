// Runs the built `fieldcase` client ($FIELDCASE_BUILD_DIR/platform/cli/fieldcase, set by
// CTest) and checks its output streams and exit codes.
#include <sys/wait.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string slurp(const fs::path& path) {
  auto bytes = fieldcase::test::read_file(path);
  return {bytes.begin(), bytes.end()};
}

Run fieldcase_cli(const std::vector<std::string>& args) {
  const char* build_dir = std::getenv("FIELDCASE_BUILD_DIR");
  INFO("FIELDCASE_BUILD_DIR must name the build directory (CTest sets it)");
  REQUIRE(build_dir != nullptr);
  const fs::path binary = fs::path(build_dir) / "platform" / "cli" / "fieldcase";
  INFO(binary.string());
  REQUIRE(fs::exists(binary));
  fieldcase::test::TempDir dir;
  std::string command = shell_quote(binary.string());
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict for "literal" + string.
  for (const std::string& arg : args) command.append(" ").append(shell_quote(arg));
  command.append(" >").append(shell_quote((dir / "out").string()));
  command.append(" 2>").append(shell_quote((dir / "err").string()));
  const int status = std::system(command.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), slurp(dir / "out"), slurp(dir / "err")};
}

void check_prints(const std::vector<std::string>& args, const std::string& expected) {
  INFO("fieldcase " << Catch::Detail::stringify(args));
  const Run run = fieldcase_cli(args);
  CHECK(run.exit_code == 0);
  CHECK(run.out == expected);
  CHECK(run.err.empty());
}

}  // namespace

TEST_CASE("cli: calendar holidays lists one date per line", "[cli][calendar]") {
  check_prints({"calendar", "holidays", "2022"},
               "2022-01-03\n2022-04-15\n2022-04-18\n2022-05-02\n2022-06-02\n2022-06-03\n"
               "2022-08-29\n2022-09-19\n2022-12-26\n2022-12-27\n");
  check_prints({"calendar", "holidays", "2021"},
               "2021-01-01\n2021-04-02\n2021-04-05\n2021-05-03\n2021-05-31\n2021-08-30\n"
               "2021-12-27\n2021-12-28\n");
  check_prints({"calendar", "holidays", "2012"},
               "2012-01-02\n2012-04-06\n2012-04-09\n2012-05-07\n2012-06-04\n2012-06-05\n"
               "2012-08-27\n2012-12-25\n2012-12-26\n");
}

TEST_CASE("cli: calendar add and between follow the counting convention", "[cli][calendar]") {
  check_prints({"calendar", "add", "2024-06-07", "1"}, "2024-06-10\n");
  check_prints({"calendar", "add", "2024-06-01", "1"}, "2024-06-03\n");
  check_prints({"calendar", "add", "2024-12-20", "7"}, "2025-01-03\n");
  check_prints({"calendar", "add", "2024-04-02", "-1"}, "2024-03-28\n");
  check_prints({"calendar", "add", "2024-06-01", "0"}, "2024-06-01\n");
  check_prints({"calendar", "between", "2024-06-05", "2024-06-05"}, "0\n");
  check_prints({"calendar", "between", "2024-06-07", "2024-06-10"}, "1\n");
  check_prints({"calendar", "between", "2024-06-01", "2024-06-03"}, "1\n");
  check_prints({"calendar", "between", "2021-12-24", "2022-01-04"}, "4\n");
  check_prints({"calendar", "between", "2024-06-10", "2024-06-03"}, "-5\n");
}

TEST_CASE("cli: due dates of assessments", "[cli][calendar]") {
  check_prints({"due", "initial", "2024-06-03"}, "2024-06-12\n");
  check_prints({"due", "core", "2024-06-03"}, "2024-07-22\n");
  check_prints({"due", "single", "2024-12-02"}, "2025-02-06\n");
  check_prints({"due", "initial", "2024-06-01"}, "2024-06-11\n");  // Saturday referral
  check_prints({"due", "initial", "2024-04-01"}, "2024-04-10\n");  // Easter Monday
  check_prints({"due", "initial", "2024-12-20", "--initial-days", "10"}, "2025-01-08\n");
  check_prints({"due", "--initial-days=10", "initial", "2024-12-20"}, "2025-01-08\n");
  check_prints({"due", "core", "2024-06-03", "--initial-days", "10"}, "2024-07-22\n");
}

TEST_CASE("cli: --help on every command and subcommand", "[cli][calendar]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--help"}, "usage: fieldcase <command>"},
      {{"-h"}, "usage: fieldcase <command>"},
      {{"help"}, "usage: fieldcase <command>"},
      {{"calendar", "--help"}, "usage: fieldcase calendar <subcommand>"},
      {{"calendar", "holidays", "--help"}, "usage: fieldcase calendar holidays YEAR"},
      {{"calendar", "add", "--help"}, "usage: fieldcase calendar add DATE N"},
      {{"calendar", "add", "2024-01-01", "--help"}, "usage: fieldcase calendar add DATE N"},
      {{"calendar", "between", "--help"}, "usage: fieldcase calendar between START END"},
      {{"due", "--help"}, "usage: fieldcase due KIND START [--initial-days N]"},
      {{"due", "bogus", "-h"}, "usage: fieldcase due KIND START"},
  };
  for (const auto& [args, usage] : cases) {
    INFO("fieldcase " << Catch::Detail::stringify(args));
    const Run run = fieldcase_cli(args);
    CHECK(run.exit_code == 0);
    CHECK(run.out.rfind(usage, 0) == 0);
    CHECK(run.err.empty());
  }
  const Run top = fieldcase_cli({"--help"});
  CHECK(top.out.find("  calendar ") != std::string::npos);
  CHECK(top.out.find("  due ") != std::string::npos);
}

TEST_CASE("cli: usage errors go to stderr with exit code 2", "[cli][calendar]") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "usage: fieldcase <command>"},
      {{"bogus"}, "unknown command 'bogus'"},
      {{"calendar"}, "missing subcommand"},
      {{"calendar", "bogus"}, "unknown subcommand 'bogus'"},
      {{"calendar", "holidays"}, "missing arguments; expected YEAR"},
      {{"calendar", "holidays", "0"}, "YEAR must be a year from 1 to 9999"},
      {{"calendar", "holidays", "20x4"}, "YEAR must be a year from 1 to 9999"},
      {{"calendar", "holidays", "2024", "2025"}, "unexpected argument '2025'"},
      {{"calendar", "add", "2023-02-29", "1"}, "DATE: no such date: 2023-02-29"},
      {{"calendar", "add", "2023-2-1", "1"}, "expected a date as YYYY-MM-DD, got '2023-2-1'"},
      {{"calendar", "add", "2023-02-01x", "1"}, "expected a date as YYYY-MM-DD"},
      {{"calendar", "add", "2024-01-01"}, "missing arguments; expected DATE N"},
      {{"calendar", "add", "2024-01-01", "seven"}, "N must be a whole number"},
      {{"calendar", "add", "2024-01-01", "99999999999"}, "N must be a whole number"},
      {{"calendar", "add", "2024-01-01", "1", "--closures"}, "unknown option '--closures'"},
      {{"calendar", "between", "2024-01-01", "tomorrow"}, "END: expected a date"},
      {{"calendar", "between", "2024-13-01", "2024-01-01"}, "START: no such date"},
      {{"due"}, "missing arguments; expected KIND START"},
      {{"due", "continuous", "2024-01-01"}, "unknown assessment kind 'continuous'"},
      {{"due", "initial", "01/02/2024"}, "START: expected a date as YYYY-MM-DD"},
      {{"due", "initial", "2024-01-01", "--initial-days"}, "--initial-days needs a number"},
      {{"due", "initial", "2024-01-01", "--initial-days", "ten"}, "must be a whole number"},
      {{"due", "initial", "2024-01-01", "--initial-days", "0"}, "--initial-days: "},
      {{"due", "initial", "2024-01-01", "--fast"}, "unknown option '--fast'"},
  };
  for (const auto& [args, message] : cases) {
    INFO("fieldcase " << Catch::Detail::stringify(args));
    const Run run = fieldcase_cli(args);
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    INFO(run.err);
    CHECK(run.err.find(message) != std::string::npos);
  }
}

TEST_CASE("cli: a valid request that cannot be answered exits 1", "[cli][calendar]") {
  const Run run = fieldcase_cli({"calendar", "add", "9999-12-31", "1"});
  CHECK(run.exit_code == 1);
  CHECK(run.out.empty());
  CHECK(run.err.find("outside 0001-01-01..9999-12-31") != std::string::npos);
  const Run due = fieldcase_cli({"due", "single", "9999-12-01"});
  CHECK(due.exit_code == 1);
  CHECK(due.out.empty());
  CHECK_FALSE(due.err.empty());
}

TEST_CASE("cli: --version names the build", "[cli]") {
  const Run run = fieldcase_cli({"--version"});
  CHECK(run.exit_code == 0);
  CHECK(run.out.rfind("fieldcase ", 0) == 0);
  CHECK(run.err.empty());
}
