// fieldcase-server: command-line entry point of the central service.
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "fieldcase/version.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: fieldcase-server <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--listen HOST:PORT]   run the service (default 127.0.0.1:8480)\n"
    "  --version                    print the version and build information\n"
    "  --help                       show this help\n";

httplib::Server* g_server = nullptr;

void stop_on_signal(int) {
  if (g_server != nullptr) g_server->stop();
}

int serve(int argc, char** argv) {
  std::string listen = "127.0.0.1:8480";
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--help") {
      std::cout << "usage: fieldcase-server serve [--listen HOST:PORT]\n";
      return 0;
    } else {
      std::cerr << "fieldcase-server serve: unknown option '" << arg << "'\n";
      return 2;
    }
  }
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "fieldcase-server: --listen expects HOST:PORT, got '" << listen << "'\n";
    return 2;
  }
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (port <= 0 || port > 65535) {
    std::cerr << "fieldcase-server: invalid port in '" << listen << "'\n";
    return 2;
  }

  httplib::Server server;
  server.Get("/v1/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(R"({"status":"ok","version":")") +
                         std::string(fieldcase::version()) + "\"}",
                     "application/json");
  });
  if (!server.bind_to_port(host, port)) {
    std::cerr << "fieldcase-server: cannot listen on " << listen << "\n";
    return 1;
  }
  g_server = &server;
  std::signal(SIGINT, stop_on_signal);
  std::signal(SIGTERM, stop_on_signal);
  std::cout << "fieldcase-server " << fieldcase::version() << " listening on http://" << host
            << ":" << port << std::endl;
  server.listen_after_bind();
  g_server = nullptr;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::cout << fieldcase::build_info() << "\n";
    return 0;
  }
  if (cmd == "--help" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "serve") return serve(argc, argv);
  std::cerr << "fieldcase-server: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
