// Support access: the stock sqlite3 shell opens an encrypted database through
// libfieldcase_sqlite.so given the raw key, and refuses a wrong or missing key.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "fieldcase/encoding.hpp"
#include "store_fixture.hpp"
#include "temp_dir.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

struct ShellResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

ShellResult run_shell(const TempDir& dir, const std::string& script) {
  const char* build = std::getenv("FIELDCASE_BUILD_DIR");
  REQUIRE(build != nullptr);
  const auto script_path = dir / "script.sql";
  std::string full = ".bail on\n.load " + std::string(build) + "/libfieldcase_sqlite\n" + script;
  write_file(script_path, std::vector<unsigned char>(full.begin(), full.end()));
  std::string cmd = "sqlite3 -batch < '" + script_path.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("the sqlite3 shell opens an encrypted database with the extension and its key",
          "[store][support]") {
  TempDir dir;
  const auto db = dir / "case.db";
  {
    auto store = open_store({true, JournalMode::wal}, db);
    REQUIRE(store.ok());
    REQUIRE((*store)->exec("CREATE TABLE visit(id INTEGER PRIMARY KEY, note TEXT);"
                           "INSERT INTO visit(note) VALUES ('child seen alone'), ('home visit');")
                .ok());
  }
  const std::string uri = "file:" + db.string() + "?vfs=fieldcase&hexkey=";
  const std::string right = hex_encode(test_key(1));
  const std::string wrong = hex_encode(test_key(2));

  SECTION("the right key reads and writes") {
    auto r = run_shell(dir, ".open " + uri + right +
                                "\nSELECT note FROM visit ORDER BY id;\n"
                                "INSERT INTO visit(note) VALUES ('added by support');\n");
    CHECK(r.exit_code == 0);
    CHECK(r.output == "child seen alone\nhome visit\n");
    auto store = open_store({true, JournalMode::wal}, db);
    REQUIRE(store.ok());
    CHECK(query_int(**store, "SELECT count(*) FROM visit WHERE note = 'added by support'") == 1);
    CHECK(integrity_check(**store) == "ok");
  }
  SECTION("a wrong key is an error, not an empty database") {
    auto r = run_shell(dir, ".open " + uri + wrong + "\nSELECT count(*) FROM visit;\n");
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("not a database") != std::string::npos);
    CHECK(r.output.find("child seen") == std::string::npos);
  }
  SECTION("no key is an error") {
    auto r = run_shell(dir, ".open file:" + db.string() +
                                "?vfs=fieldcase\nSELECT count(*) FROM visit;\n");
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("unable to open") != std::string::npos);
  }
  SECTION("without the extension the file is unreadable") {
    auto r = run_shell(dir, ".open " + db.string() + "\nSELECT count(*) FROM visit;\n");
    CHECK(r.exit_code != 0);
    CHECK(r.output.find("child seen") == std::string::npos);
  }
}
