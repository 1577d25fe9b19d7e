#include "http_front.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "fieldcase/sync_protocol.hpp"
#include "web_api.hpp"

namespace fieldcase::server::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The connection pool: `threads` workers each handle one request at a time, and at most
// `max_queued` more requests wait for one. Requests beyond that go to a small overflow pool
// whose requests are answered at once with 503 busy (see overflowing()), so a client is told
// to come back instead of waiting behind slow ones in an unbounded queue.
class ConnectionPool {
 public:
  static constexpr std::size_t kOverflowThreads = 2;

  ConnectionPool(std::size_t threads, std::size_t max_queued)
      : threads_(threads), max_queued_(max_queued) {
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(false); });
    for (std::size_t i = 0; i < kOverflowThreads; ++i) {
      workers_.emplace_back([this] { work(true); });
    }
  }
  ~ConnectionPool() { shutdown(); }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  void enqueue(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (active_ + queue_.size() < threads_ + max_queued_) {
        queue_.push_back(std::move(fn));
        cv_.notify_one();
        return;
      }
      overflow_.push_back(std::move(fn));
    }
    overflow_cv_.notify_one();
  }

  // Serves what is queued, then stops the threads.
  void shutdown() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    overflow_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  static thread_local bool overflow_thread;

 private:
  void work(bool overflow) {
    overflow_thread = overflow;
    auto& queue = overflow ? overflow_ : queue_;
    auto& cv = overflow ? overflow_cv_ : cv_;
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        cv.wait(lock, [&] { return stopping_ || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and nothing left to serve
        fn = std::move(queue.front());
        queue.pop_front();
        if (!overflow) ++active_;
      }
      fn();
      if (!overflow) {
        std::lock_guard lock(mu_);
        --active_;
      }
    }
  }

  const std::size_t threads_;
  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_, overflow_cv_;
  std::deque<std::function<void()>> queue_, overflow_;
  std::size_t active_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

thread_local bool ConnectionPool::overflow_thread = false;

// httplib's accept loop hands each socket to process_and_close_socket() through its task
// queue: run that at once on the accepting thread (it only passes the socket to the front).
class InlineQueue final : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override {}
};

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1'000'000));
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Service Unavailable";
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// What the front makes of a complete request head.
struct Head {
  std::string method, path;
  std::size_t length = 0;  // Content-Length, 0 when absent
  bool chunked = false;    // any Transfer-Encoding
  bool bad = false;        // a malformed or contradictory Content-Length, a bad request line
};

Head parse_head(std::string_view head) {
  Head h;
  auto eol = head.find('\n');
  const std::string_view line = trim(head.substr(0, eol));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    h.bad = true;
    return h;
  }
  h.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  h.path = std::string(target.substr(0, target.find('?')));
  bool have_length = false;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 1);
    eol = head.find('\n');
    const std::string_view field = trim(head.substr(0, eol));
    if (field.empty()) break;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) continue;  // httplib refuses it with 400
    const std::string name = lower(trim(field.substr(0, colon)));
    const std::string_view value = trim(field.substr(colon + 1));
    if (name == "transfer-encoding") h.chunked = true;
    if (name != "content-length") continue;
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      h.bad = true;
      continue;
    }
    const std::size_t n = std::stoull(std::string(value));
    if (have_length && n != h.length) h.bad = true;
    h.length = n;
    have_length = true;
  }
  return h;
}

// Reads `n` bytes at most; >0 bytes read, 0 end of stream, -1 nothing now (would block),
// -2 failed.
ssize_t read_some(int fd, SSL* ssl, char* buf, std::size_t n, bool* want_write = nullptr) {
  if (ssl == nullptr) {
    const ssize_t r = recv(fd, buf, n, MSG_DONTWAIT);
    if (r >= 0) return r;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
  }
  ERR_clear_error();
  const int r = SSL_read(ssl, buf, static_cast<int>(std::min<std::size_t>(n, 1u << 30)));
  if (r > 0) return r;
  const int e = SSL_get_error(ssl, r);
  if (e == SSL_ERROR_WANT_READ) return -1;
  if (e == SSL_ERROR_WANT_WRITE) {
    if (want_write != nullptr) *want_write = true;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  return -2;
}

// Writes all of `data` within `timeout`; false if it could not.
bool write_all(int fd, SSL* ssl, std::string_view data, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!data.empty()) {
    if (ssl == nullptr) {
      const ssize_t r = send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r > 0) {
        data.remove_prefix(static_cast<std::size_t>(r));
        continue;
      }
      if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait_for(fd, POLLOUT, remaining_ms(deadline))) return false;
      continue;
    }
    ERR_clear_error();
    const int r =
        SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1u << 30)));
    if (r > 0) {
      data.remove_prefix(static_cast<std::size_t>(r));
      continue;
    }
    const int e = SSL_get_error(ssl, r);
    short events = 0;
    if (e == SSL_ERROR_WANT_READ) events = POLLIN;
    if (e == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0 || !wait_for(fd, events, remaining_ms(deadline))) return false;
  }
  return true;
}

}  // namespace

// One client connection: its socket, its TLS state, and what was read of it but not consumed.
struct FrontServer::Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshaken = false;
  bool want_write = false;  // the TLS layer waits to write before it can read
  std::string peer;
  int peer_port = 0;
  std::string buf;
  SteadyClock::time_point deadline;
  bool idle = false;                  // kept alive, no byte of its next request yet
  SteadyClock::time_point lingering;  // set: answered and shut down, draining until then
  std::size_t requests = 0;

  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) close(fd);
  }
};

// The request-handling side of a connection for httplib: the bytes the front already read,
// then the socket; the body ends at its declared length and at the body deadline.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(FrontServer::Conn& c, const FrontOptions& o, std::size_t head_bytes,
             std::size_t body_bytes)
      : c_(c),
        o_(o),
        head_left_(head_bytes),
        body_left_(body_bytes),
        // A little after the deadline the sync handler checks between reads, so that it
        // answers 408 itself; other endpoints' bodies just end there.
        body_deadline_(SteadyClock::now() + o.body_deadline + std::chrono::milliseconds(250)) {}

  bool is_readable() const override {
    if (!c_.buf.empty() || (c_.ssl != nullptr && SSL_pending(c_.ssl) > 0)) return true;
    return wait_for(c_.fd, POLLIN, read_wait());
  }
  bool is_writable() const override {
    return wait_for(c_.fd, POLLOUT, static_cast<int>(o_.write_timeout.count()));
  }

  ssize_t read(char* ptr, std::size_t size) override {
    if (head_left_ == 0) {
      // The body: never past its declared length, never after its deadline.
      if (body_left_ == 0) return 0;
      if (SteadyClock::now() >= body_deadline_) {
        failed_ = true;
        return -1;
      }
      size = std::min(size, body_left_);
    } else {
      size = std::min(size, head_left_);
    }
    ssize_t n = 0;
    if (!c_.buf.empty()) {
      n = static_cast<ssize_t>(std::min(size, c_.buf.size()));
      std::copy_n(c_.buf.data(), n, ptr);
      c_.buf.erase(0, static_cast<std::size_t>(n));
    } else {
      for (;;) {
        bool want_write = false;
        n = read_some(c_.fd, c_.ssl, ptr, size, &want_write);
        if (n >= 0) break;
        if (n == -2 || !wait_for(c_.fd, want_write ? POLLOUT : POLLIN, read_wait())) {
          failed_ = true;
          return -1;
        }
      }
      if (n == 0) {
        failed_ = true;
        return 0;
      }
    }
    const auto got = static_cast<std::size_t>(n);
    if (head_left_ > 0) {
      head_left_ -= got;
    } else {
      body_left_ -= got;
    }
    return n;
  }

  ssize_t write(const char* ptr, std::size_t size) override {
    // The response head says whether the connection stays open after it.
    if (sniffed_.size() < 16384 && sniffed_.find("\r\n\r\n") == std::string::npos) {
      sniffed_.append(ptr, std::min<std::size_t>(size, 16384));
    }
    if (!write_all(c_.fd, c_.ssl, std::string_view(ptr, size), o_.write_timeout)) {
      failed_ = true;
      return -1;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = 0;
    if (getsockname(c_.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }
  socket_t socket() const override { return c_.fd; }

  // Whether the connection may carry another request: the whole body was consumed, nothing
  // failed, and the response did not say "Connection: close".
  bool reusable() const {
    return !failed_ && head_left_ == 0 && body_left_ == 0 &&
           lower(sniffed_).find("\r\nconnection: close\r\n") == std::string::npos;
  }

 private:
  int read_wait() const {
    auto wait = static_cast<int>(o_.read_timeout.count());
    if (head_left_ == 0) wait = std::min(wait, remaining_ms(body_deadline_));
    return wait;
  }

  FrontServer::Conn& c_;
  const FrontOptions& o_;
  std::size_t head_left_;
  std::size_t body_left_;
  SteadyClock::time_point body_deadline_;
  bool failed_ = false;
  std::string sniffed_;
};

struct FrontServer::Front {
  FrontOptions options;
  BodyLimit limit;
  FrontRefusal refused;
  SSL_CTX* tls = nullptr;
  ConnectionPool pool;
  int wake = -1;  // eventfd: something was handed to the poll thread
  std::mutex mu;
  std::vector<std::unique_ptr<Conn>> incoming;  // accepted or kept alive, not yet polled
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> inflight{0};  // declared body bytes of requests in hand
  std::thread thread;
  // Refusals the front audits: at most 20 a second, so that a flood of them cannot keep the
  // poll thread writing audit entries.
  double audit_tokens = 20;
  SteadyClock::time_point audit_at = SteadyClock::now();
  std::size_t audit_suppressed = 0;

  Front(FrontOptions o, BodyLimit l, FrontRefusal r, SSL_CTX* ctx)
      : options(o),
        limit(std::move(l)),
        refused(std::move(r)),
        tls(ctx),
        pool(std::max<std::size_t>(1, o.threads), o.max_queued),
        wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

  ~Front() {
    if (wake >= 0) close(wake);
    if (tls != nullptr) SSL_CTX_free(tls);
  }

  void hand(std::unique_ptr<Conn> c) {
    {
      std::lock_guard lock(mu);
      incoming.push_back(std::move(c));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto w = ::write(wake, &one, sizeof one);
  }

  void audit(std::string_view event, const Conn& c, const std::string& detail) {
    const auto now = SteadyClock::now();
    audit_tokens =
        std::min(20.0, audit_tokens + 20.0 * std::chrono::duration<double>(now - audit_at).count());
    audit_at = now;
    if (audit_tokens < 1.0) {
      ++audit_suppressed;
      return;
    }
    audit_tokens -= 1.0;
    std::string text = detail;
    if (audit_suppressed > 0) {
      text += " (and " + std::to_string(audit_suppressed) + " refusals before, not audited)";
      audit_suppressed = 0;
    }
    if (refused) refused(event, c.peer, text);
  }

  // Answers a refused request at once and starts closing the connection: the answer is sent,
  // the sending side shut, and what the client still sends is read and dropped for a moment
  // (a socket closed with unread input resets, and the client might lose the answer).
  void refuse(Conn& c, int status, std::string_view code, const std::string& message) {
    httplib::Response res;
    set_security_headers(res);
    if (status == 503) res.set_header("Retry-After", "1");
    const std::string body = sync::encode_error(code, message);
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n";
    for (const auto& [name, value] : res.headers) out += name + ": " + value + "\r\n";
    out += "\r\n" + body;
    c.buf.clear();
    if (!write_all(c.fd, c.ssl, out, std::chrono::milliseconds(1000))) {
      c.lingering = SteadyClock::now();
      return;
    }
    if (c.ssl != nullptr) SSL_shutdown(c.ssl);
    shutdown(c.fd, SHUT_WR);
    c.lingering = SteadyClock::now() + std::chrono::milliseconds(2000);
  }

  // Reads what the connection has; true when it stays in the poll set.
  enum class Step { wait, close, dispatch };
  Step progress(Conn& c) {
    if (c.lingering != SteadyClock::time_point{}) {
      char drop[16384];
      for (int i = 0; i < 64; ++i) {
        const ssize_t n = read_some(c.fd, c.ssl, drop, sizeof drop);
        if (n == -1) return Step::wait;
        if (n <= 0) return Step::close;
      }
      return Step::wait;
    }
    if (c.ssl != nullptr && !c.handshaken) {
      ERR_clear_error();
      const int r = SSL_accept(c.ssl);
      if (r != 1) {
        const int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          c.want_write = e == SSL_ERROR_WANT_WRITE;
          return Step::wait;
        }
        return Step::close;
      }
      c.handshaken = true;
      c.want_write = false;
    }
    for (;;) {
      if (auto step = examine(c)) return *step;
      const std::size_t room = options.max_head_bytes + 1 - c.buf.size();
      const std::size_t before = c.buf.size();
      c.buf.resize(before + std::min<std::size_t>(room, 16384));
      bool want_write = false;
      const ssize_t n =
          read_some(c.fd, c.ssl, c.buf.data() + before, c.buf.size() - before, &want_write);
      c.buf.resize(before + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
      c.want_write = want_write;
      if (n == -1) return Step::wait;
      if (n <= 0) return Step::close;
      if (c.idle) {  // the first byte of the next request: the head's own deadline starts
        c.idle = false;
        c.deadline = SteadyClock::now() + options.head_timeout;
      }
    }
  }

  // What to do with what the connection has read so far: nothing yet, refuse, or dispatch.
  std::optional<Step> examine(Conn& c) {
    // Blank lines between requests are allowed before a request line.
    std::size_t skip = 0;
    while (skip < c.buf.size() && (c.buf[skip] == '\r' || c.buf[skip] == '\n')) ++skip;
    if (skip > 0) c.buf.erase(0, skip);
    const auto end = c.buf.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.buf.size() <= options.max_head_bytes) return std::nullopt;
      audit("too_large", c,
            "request head over " + std::to_string(options.max_head_bytes) + " bytes");
      refuse(
          c, 431, "too_large",
          "the request head is larger than " + std::to_string(options.max_head_bytes) + " bytes");
      return Step::wait;
    }
    const std::size_t head_bytes = end + 4;
    const Head h = parse_head(std::string_view(c.buf).substr(0, head_bytes));
    if (h.bad) {
      audit("bad_request", c, "malformed request line or Content-Length");
      refuse(c, 400, "bad_request", "the request line or Content-Length is malformed");
      return Step::wait;
    }
    if (h.chunked) {
      audit("bad_request", c, "a transfer-coded (chunked) body");
      refuse(c, 411, "length_required",
             "request bodies must be sent with Content-Length, not a transfer coding");
      return Step::wait;
    }
    const std::size_t max = limit ? limit(h.method, h.path) : 0;
    if (h.length > max) {
      audit("too_large", c,
            "declared body of " + std::to_string(h.length) + " bytes on " + h.method + " over " +
                std::to_string(max));
      refuse(c, 413, "too_large",
             "the request body is larger than " + std::to_string(max) + " bytes");
      return Step::wait;
    }
    std::size_t held = inflight.load();
    do {
      if (held + h.length > options.max_inflight_body_bytes) {
        audit("busy", c, "request bodies in flight at their limit");
        refuse(c, 503, "busy", "the server is busy; retry shortly");
        return Step::wait;
      }
    } while (!inflight.compare_exchange_weak(held, held + h.length));
    pending_head = head_bytes;
    pending_body = h.length;
    return Step::dispatch;
  }
  // Set by examine() for the connection it dispatches.
  std::size_t pending_head = 0, pending_body = 0;

  void run(FrontServer& server) {
    std::list<std::unique_ptr<Conn>> conns;  // oldest first
    std::map<std::string, std::size_t> per_address;
    // Takes a connection out of the poll set, and closes it unless `kept` takes it.
    auto forget = [&](std::list<std::unique_ptr<Conn>>::iterator it,
                      std::unique_ptr<Conn>* kept = nullptr) {
      auto a = per_address.find((*it)->peer);
      if (a != per_address.end() && --a->second == 0) per_address.erase(a);
      if (kept != nullptr) *kept = std::move(*it);
      return conns.erase(it);
    };
    // Closes the oldest connection still waiting for its head among those `match` selects.
    auto evict_oldest = [&](const std::function<bool(const Conn&)>& match) {
      for (auto it = conns.begin(); it != conns.end(); ++it) {
        if ((*it)->lingering == SteadyClock::time_point{} && match(**it)) {
          forget(it);
          return;
        }
      }
    };
    std::vector<pollfd> fds;
    std::vector<std::list<std::unique_ptr<Conn>>::iterator> polled;
    while (!stopping.load()) {
      std::vector<std::unique_ptr<Conn>> fresh;
      {
        std::lock_guard lock(mu);
        fresh.swap(incoming);
      }
      for (auto& c : fresh) {
        if (c == nullptr) continue;  // only a wake-up
        if (per_address[c->peer] >= options.max_pending_per_address) {
          const std::string peer = c->peer;
          evict_oldest([&](const Conn& o) { return o.peer == peer; });
        }
        if (conns.size() >= options.max_pending) evict_oldest([](const Conn&) { return true; });
        ++per_address[c->peer];
        conns.push_back(std::move(c));
        // A kept-alive connection may hold (part of) the next request already.
        auto it = std::prev(conns.end());
        const Conn& k = **it;
        if (!k.buf.empty() || (k.ssl != nullptr && k.handshaken && SSL_pending(k.ssl) > 0)) {
          const Step step = progress(**it);
          if (step == Step::close) {
            forget(it);
          } else if (step == Step::dispatch) {
            dispatch(server, forget, it);
          }
        }
      }
      fds.clear();
      polled.clear();
      fds.push_back({wake, POLLIN, 0});
      auto next = SteadyClock::now() + std::chrono::seconds(1);
      for (auto it = conns.begin(); it != conns.end(); ++it) {
        const Conn& c = **it;
        fds.push_back({c.fd, static_cast<short>(c.want_write ? POLLOUT : POLLIN), 0});
        polled.push_back(it);
        const auto until = c.lingering != SteadyClock::time_point{} ? c.lingering : c.deadline;
        next = std::min(next, until);
      }
      const int r = poll(fds.data(), fds.size(), std::max(1, remaining_ms(next)));
      if (r < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) {
        std::uint64_t n = 0;
        [[maybe_unused]] const auto got = ::read(wake, &n, sizeof n);
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = polled[i - 1];
        const Step step = progress(**it);
        if (step == Step::close) {
          forget(it);
        } else if (step == Step::dispatch) {
          dispatch(server, forget, it);
        }
      }
      const auto now = SteadyClock::now();
      for (auto it = conns.begin(); it != conns.end();) {
        const Conn& c = **it;
        const auto until = c.lingering != SteadyClock::time_point{} ? c.lingering : c.deadline;
        it = until <= now ? forget(it) : std::next(it);
      }
    }
  }

  template <class Forget>
  void dispatch(FrontServer& server, Forget& forget,
                std::list<std::unique_ptr<Conn>>::iterator it) {
    std::unique_ptr<Conn> taken;
    forget(it, &taken);
    std::shared_ptr<Conn> conn(std::move(taken));
    const std::size_t head = pending_head, body = pending_body;
    pool.enqueue(
        [&server, conn, head, body]() mutable { server.front_->serve(server, conn, head, body); });
  }

  void serve(FrontServer& server, const std::shared_ptr<Conn>& conn, std::size_t head,
             std::size_t body) {
    ++conn->requests;
    const bool last = conn->requests >= options.max_requests_per_connection || stopping.load();
    ConnStream stream(*conn, options, head, body);
    bool closed = false;
    const bool ok = server.process_request(stream, last, closed, nullptr);
    inflight.fetch_sub(body);
    if (!ok || closed || last || !stream.reusable()) return;  // the Conn closes its socket
    auto kept = std::make_unique<Conn>();
    std::swap(kept->fd, conn->fd);
    std::swap(kept->ssl, conn->ssl);
    kept->handshaken = conn->handshaken;
    kept->peer = conn->peer;
    kept->peer_port = conn->peer_port;
    kept->buf = std::move(conn->buf);
    kept->requests = conn->requests;
    kept->idle = kept->buf.empty();
    kept->deadline = SteadyClock::now() + (kept->idle ? options.keep_alive : options.head_timeout);
    hand(std::move(kept));
  }
};

FrontServer::FrontServer(FrontOptions options, BodyLimit limit, FrontRefusal refused, SSL_CTX* tls)
    : front_(std::make_unique<Front>(options, std::move(limit), std::move(refused), tls)) {
  new_task_queue = [] { return new InlineQueue; };
}

FrontServer::~FrontServer() {
  front_->stopping.store(true);
  if (front_->thread.joinable()) front_->thread.join();
  front_->pool.shutdown();
}

bool FrontServer::is_valid() const { return front_->wake >= 0; }

bool FrontServer::overflowing() { return ConnectionPool::overflow_thread; }

bool FrontServer::serve() {
  front_->stopping.store(false);
  // httplib listens with a backlog of 5: connections arriving in a burst would have their
  // SYNs dropped (and retried a second later) while the accepting thread waits for a core.
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, 1024);
  front_->thread = std::thread([this] { front_->run(*this); });
  const bool ok = listen_after_bind();
  front_->stopping.store(true);
  front_->hand(nullptr);  // wakes the poll thread
  front_->thread.join();
  return ok;
}

bool FrontServer::process_and_close_socket(socket_t sock) {
  auto c = std::make_unique<Conn>();
  c->fd = sock;
  const int flags = fcntl(sock, F_GETFL, 0);
  if (flags < 0 || fcntl(sock, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
      c->peer_port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      c->peer_port = ntohs(in6->sin6_port);
    }
    c->peer = text;
  }
  if (front_->tls != nullptr) {
    c->ssl = SSL_new(front_->tls);
    if (c->ssl == nullptr || SSL_set_fd(c->ssl, sock) != 1) return false;
  }
  c->deadline = SteadyClock::now() + front_->options.head_timeout;
  front_->hand(std::move(c));
  return true;
}

SSL_CTX* make_tls_context(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

}  // namespace fieldcase::server::detail
