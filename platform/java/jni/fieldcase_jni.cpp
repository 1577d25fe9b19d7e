// The JNI layer of the Java binding (org.fieldcase): each native method calls the C API
// (fieldcase.h) and nothing else of the core. Failures become org.fieldcase.FieldcaseException
// with the C error's domain and code; Java strings cross as real UTF-8 (not JNI's modified
// UTF-8); Java key stores and transports are adapted to the C service structs. No C++ exception
// leaves a native method.
#include <jni.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fieldcase.h"
#include "org_fieldcase_Device.h"
#include "org_fieldcase_Fieldcase.h"

namespace {

std::atomic<long> open_devices{0};

// --- Strings: UTF-16 (Java) <-> UTF-8 (C API) ---

std::string to_utf8(JNIEnv* env, jstring text) {
  const jsize n = env->GetStringLength(text);
  const jchar* units = env->GetStringChars(text, nullptr);
  if (units == nullptr) return {};
  std::string out;
  out.reserve(static_cast<std::size_t>(n));
  for (jsize i = 0; i < n; ++i) {
    std::uint32_t c = units[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && units[i + 1] >= 0xDC00 &&
        units[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (units[i + 1] - 0xDC00u);
      ++i;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;  // a lone surrogate
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  env->ReleaseStringChars(text, units);
  return out;
}

jstring to_jstring(JNIEnv* env, std::string_view utf8) {
  std::vector<jchar> units;
  units.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    std::uint32_t c = 0xFFFD;
    std::size_t len = 1;
    if (b < 0x80) {
      c = b;
    } else if ((b & 0xE0) == 0xC0 && i + 1 < utf8.size()) {
      c = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu);
      len = 2;
    } else if ((b & 0xF0) == 0xE0 && i + 2 < utf8.size()) {
      c = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu) << 6) |
          (static_cast<unsigned char>(utf8[i + 2]) & 0x3Fu);
      len = 3;
    } else if ((b & 0xF8) == 0xF0 && i + 3 < utf8.size()) {
      c = ((b & 0x07u) << 18) | ((static_cast<unsigned char>(utf8[i + 1]) & 0x3Fu) << 12) |
          ((static_cast<unsigned char>(utf8[i + 2]) & 0x3Fu) << 6) |
          (static_cast<unsigned char>(utf8[i + 3]) & 0x3Fu);
      len = 4;
    }
    i += len;
    if (c >= 0x10000) {
      c -= 0x10000;
      units.push_back(static_cast<jchar>(0xD800 + (c >> 10)));
      units.push_back(static_cast<jchar>(0xDC00 + (c & 0x3FF)));
    } else {
      units.push_back(static_cast<jchar>(c));
    }
  }
  return env->NewString(units.data(), static_cast<jsize>(units.size()));
}

// A Java string argument as UTF-8; nullopt for null (passed to C as NULL).
struct Utf8Arg {
  Utf8Arg(JNIEnv* env, jstring s) {
    if (s != nullptr) value = to_utf8(env, s);
  }
  const char* c_str() const { return value ? value->c_str() : nullptr; }
  std::optional<std::string> value;
};

// A Java-held secret (a PIN) as UTF-8, wiped when done.
struct SecretArg : Utf8Arg {
  using Utf8Arg::Utf8Arg;
  ~SecretArg() {
    if (value) {
      volatile char* p = value->data();
      for (std::size_t i = 0; i < value->size(); ++i) p[i] = 0;
    }
  }
};

// --- Exceptions ---

void throw_fieldcase(JNIEnv* env, int32_t domain, int32_t code, const char* message) {
  if (env->ExceptionCheck()) return;  // a Java exception is already on its way
  jclass cls = env->FindClass("org/fieldcase/FieldcaseException");
  if (cls == nullptr) return;
  jmethodID from = env->GetStaticMethodID(
      cls, "fromNative",
      "(IILjava/lang/String;Ljava/lang/String;)Lorg/fieldcase/FieldcaseException;");
  if (from == nullptr) return;
  jstring name = to_jstring(env, fc_error_code_name(domain, code));
  jstring text = to_jstring(env, message);
  auto ex =
      static_cast<jthrowable>(env->CallStaticObjectMethod(cls, from, domain, code, name, text));
  if (ex != nullptr && !env->ExceptionCheck()) env->Throw(ex);
}

void throw_error(JNIEnv* env, const fc_error& err) {
  throw_fieldcase(env, err.domain, err.code, err.message);
}

fc_device* device_of(JNIEnv* env, jlong handle) {
  if (handle == 0) {
    throw_fieldcase(env, FC_DOMAIN_API, FC_API_INVALID_HANDLE, "the device is closed");
    return nullptr;
  }
  return reinterpret_cast<fc_device*>(static_cast<std::uintptr_t>(handle));
}

// The text of a Java exception (toString()), then cleared.
std::string take_exception(JNIEnv* env) {
  jthrowable ex = env->ExceptionOccurred();
  env->ExceptionClear();
  if (ex == nullptr) return "exception";
  jclass cls = env->GetObjectClass(ex);
  jmethodID to_string = env->GetMethodID(cls, "toString", "()Ljava/lang/String;");
  auto s = static_cast<jstring>(env->CallObjectMethod(ex, to_string));
  if (env->ExceptionCheck() || s == nullptr) {
    env->ExceptionClear();
    return "exception";
  }
  return to_utf8(env, s);
}

bool is_instance(JNIEnv* env, jthrowable ex, const char* class_name) {
  jclass cls = env->FindClass(class_name);
  return cls != nullptr && env->IsInstanceOf(ex, cls);
}

// A C string the library returned, as a Java string (released either way).
jstring take_string(JNIEnv* env, char* text, const fc_error& err) {
  if (text == nullptr) {
    throw_error(env, err);
    return nullptr;
  }
  jstring out = to_jstring(env, text);
  fc_string_release(text);
  return out;
}

// --- Java services as C service structs ---

struct JavaService {
  JavaVM* vm = nullptr;
  jobject object = nullptr;  // global reference

  JNIEnv* env() const {
    void* e = nullptr;
    if (vm->GetEnv(&e, JNI_VERSION_1_8) == JNI_OK) return static_cast<JNIEnv*>(e);
    // A thread the JVM does not know (not the case today: callbacks run on the caller's thread).
    if (vm->AttachCurrentThreadAsDaemon(&e, nullptr) != JNI_OK) return nullptr;
    return static_cast<JNIEnv*>(e);
  }
};

// The local references a callback makes are freed when it returns: callbacks run inside one
// long native call (a sync), which would otherwise pile them up round after round.
class LocalFrame {
 public:
  explicit LocalFrame(JNIEnv* env) : env_(env), pushed_(env->PushLocalFrame(16) == 0) {}
  ~LocalFrame() {
    if (pushed_) env_->PopLocalFrame(nullptr);
  }
  LocalFrame(const LocalFrame&) = delete;
  LocalFrame& operator=(const LocalFrame&) = delete;

 private:
  JNIEnv* env_;
  bool pushed_;
};

void destroy_service(void* context) {
  auto* s = static_cast<JavaService*>(context);
  if (JNIEnv* env = s->env()) env->DeleteGlobalRef(s->object);
  delete s;
}

JavaService* new_service(JNIEnv* env, jobject object) {
  auto* s = new JavaService();
  env->GetJavaVM(&s->vm);
  s->object = env->NewGlobalRef(object);
  return s;
}

bool ks_get(void* context, const char* name, uint8_t* buffer, size_t capacity, size_t* out_size,
            bool* out_found, fc_error* out_error) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return false;
  LocalFrame frame(env);
  jclass cls = env->GetObjectClass(s->object);
  jmethodID get = env->GetMethodID(cls, "get", "(Ljava/lang/String;)[B");
  auto bytes =
      static_cast<jbyteArray>(env->CallObjectMethod(s->object, get, to_jstring(env, name)));
  if (env->ExceptionCheck()) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 1, ("key store: " + take_exception(env)).c_str());
    return false;
  }
  *out_found = bytes != nullptr;
  if (bytes == nullptr) return true;
  const jsize n = env->GetArrayLength(bytes);
  if (static_cast<size_t>(n) > capacity) {
    fc_error_set(out_error, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT, "secret too large");
    return false;
  }
  env->GetByteArrayRegion(bytes, 0, n, reinterpret_cast<jbyte*>(buffer));
  *out_size = static_cast<size_t>(n);
  env->DeleteLocalRef(bytes);
  return true;
}

bool ks_put(void* context, const char* name, const uint8_t* secret, size_t size,
            fc_error* out_error) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return false;
  LocalFrame frame(env);
  jclass cls = env->GetObjectClass(s->object);
  jmethodID put = env->GetMethodID(cls, "put", "(Ljava/lang/String;[B)V");
  jbyteArray bytes = env->NewByteArray(static_cast<jsize>(size));
  env->SetByteArrayRegion(bytes, 0, static_cast<jsize>(size),
                          reinterpret_cast<const jbyte*>(secret));
  env->CallVoidMethod(s->object, put, to_jstring(env, name), bytes);
  env->DeleteLocalRef(bytes);
  if (env->ExceptionCheck()) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 1, ("key store: " + take_exception(env)).c_str());
    return false;
  }
  return true;
}

bool ks_remove(void* context, const char* name, fc_error* out_error) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return false;
  LocalFrame frame(env);
  jclass cls = env->GetObjectClass(s->object);
  jmethodID remove = env->GetMethodID(cls, "remove", "(Ljava/lang/String;)V");
  env->CallVoidMethod(s->object, remove, to_jstring(env, name));
  if (env->ExceptionCheck()) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 1, ("key store: " + take_exception(env)).c_str());
    return false;
  }
  return true;
}

bool tr_post(void* context, const fc_http_request* request, fc_http_response* response,
             fc_error* out_error) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return false;
  LocalFrame frame(env);
  jclass cls = env->GetObjectClass(s->object);
  jmethodID post = env->GetMethodID(
      cls, "post",
      "(Ljava/lang/String;[BLjava/lang/String;)Lorg/fieldcase/HttpTransport$Response;");
  jbyteArray body = env->NewByteArray(static_cast<jsize>(request->body_size));
  env->SetByteArrayRegion(body, 0, static_cast<jsize>(request->body_size),
                          reinterpret_cast<const jbyte*>(request->body));
  jobject answer = env->CallObjectMethod(s->object, post, to_jstring(env, request->path), body,
                                         to_jstring(env, request->bearer_token));
  env->DeleteLocalRef(body);
  if (env->ExceptionCheck()) {
    jthrowable ex = env->ExceptionOccurred();
    env->ExceptionClear();
    const bool io = is_instance(env, ex, "java/io/IOException");
    env->Throw(ex);
    const std::string text = "transport: " + take_exception(env);
    if (io) {
      fc_error_set(out_error, FC_DOMAIN_FIELDCASE, FC_ERR_IO, text.c_str());
    } else {
      fc_error_set(out_error, FC_DOMAIN_HOST, 1, text.c_str());
    }
    return false;
  }
  if (answer == nullptr) {
    fc_error_set(out_error, FC_DOMAIN_FIELDCASE, FC_ERR_IO, "transport: no response");
    return false;
  }
  jclass rcls = env->GetObjectClass(answer);
  const jint status = env->GetIntField(answer, env->GetFieldID(rcls, "status", "I"));
  auto bytes =
      static_cast<jbyteArray>(env->GetObjectField(answer, env->GetFieldID(rcls, "body", "[B")));
  std::vector<uint8_t> content;
  if (bytes != nullptr) {
    content.resize(static_cast<std::size_t>(env->GetArrayLength(bytes)));
    env->GetByteArrayRegion(bytes, 0, static_cast<jsize>(content.size()),
                            reinterpret_cast<jbyte*>(content.data()));
  }
  return fc_http_response_set_status(response, status, out_error) &&
         fc_http_response_set_body(response, content.data(), content.size(), out_error);
}

int32_t net_state(void* context) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return FC_CONNECTIVITY_ONLINE;
  LocalFrame frame(env);
  jmethodID online = env->GetMethodID(env->GetObjectClass(s->object), "online", "()Z");
  const jboolean up = env->CallBooleanMethod(s->object, online);
  if (env->ExceptionCheck()) {
    env->ExceptionClear();  // a connectivity check that fails does not stop the sync
    return FC_CONNECTIVITY_ONLINE;
  }
  return up ? FC_CONNECTIVITY_ONLINE : FC_CONNECTIVITY_OFFLINE;
}

void log_line(void* context, int32_t level, const char* message) {
  auto* s = static_cast<JavaService*>(context);
  JNIEnv* env = s->env();
  if (env == nullptr) return;
  // The device call that logs may itself be on its way out with a Java exception pending.
  if (env->ExceptionCheck()) return;
  LocalFrame frame(env);
  jmethodID log = env->GetMethodID(env->GetObjectClass(s->object), "log", "(ILjava/lang/String;)V");
  env->CallVoidMethod(s->object, log, level, to_jstring(env, message));
  if (env->ExceptionCheck()) env->ExceptionClear();  // logging never fails a call
}

// --- Configuration ---

std::optional<std::string> string_field(JNIEnv* env, jobject obj, jclass cls, const char* name) {
  auto s = static_cast<jstring>(
      env->GetObjectField(obj, env->GetFieldID(cls, name, "Ljava/lang/String;")));
  if (s == nullptr) return std::nullopt;
  return to_utf8(env, s);
}

struct Config {
  std::optional<std::string> database, worker, device, role, url, keys;
  fc_keystore keystore{};
  fc_transport transport{};
  fc_connectivity connectivity{};
  fc_logger logger{};
  fc_device_config c{};
};

bool read_config(JNIEnv* env, jobject config, Config& out) {
  if (config == nullptr) {
    throw_fieldcase(env, FC_DOMAIN_API, FC_API_NULL_ARGUMENT, "config is null");
    return false;
  }
  jclass cls = env->GetObjectClass(config);
  out.database = string_field(env, config, cls, "database");
  out.worker = string_field(env, config, cls, "workerId");
  out.device = string_field(env, config, cls, "deviceId");
  out.role = string_field(env, config, cls, "role");
  out.url = string_field(env, config, cls, "serverUrl");
  out.keys = string_field(env, config, cls, "keystoreDir");
  fc_device_config_init(&out.c);
  auto c_str = [](const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; };
  out.c.database = c_str(out.database);
  out.c.worker_id = c_str(out.worker);
  out.c.device_id = c_str(out.device);
  out.c.role = c_str(out.role);
  out.c.server_url = c_str(out.url);
  out.c.keystore_dir = c_str(out.keys);
  out.c.kdf = env->GetBooleanField(config, env->GetFieldID(cls, "minimumKdf", "Z"))
                  ? FC_KDF_MINIMUM
                  : FC_KDF_DEVICE_DEFAULT;
  out.c.max_failed_unlocks =
      env->GetIntField(config, env->GetFieldID(cls, "maxFailedUnlocks", "I"));
  out.c.idle_timeout_s = env->GetIntField(config, env->GetFieldID(cls, "idleTimeoutSeconds", "I"));
  out.c.sync_attempts = env->GetIntField(config, env->GetFieldID(cls, "syncAttempts", "I"));
  jobject ks =
      env->GetObjectField(config, env->GetFieldID(cls, "keyStore", "Lorg/fieldcase/KeyStore;"));
  if (ks != nullptr) {
    out.keystore = {new_service(env, ks), ks_get, ks_put, ks_remove, destroy_service};
    out.c.keystore = &out.keystore;
  }
  jobject tr = env->GetObjectField(
      config, env->GetFieldID(cls, "transport", "Lorg/fieldcase/HttpTransport;"));
  if (tr != nullptr) {
    out.transport = {new_service(env, tr), tr_post, destroy_service};
    out.c.transport = &out.transport;
  }
  jobject net = env->GetObjectField(
      config, env->GetFieldID(cls, "connectivity", "Lorg/fieldcase/Connectivity;"));
  if (net != nullptr) {
    out.connectivity = {new_service(env, net), net_state, destroy_service};
    out.c.connectivity = &out.connectivity;
  }
  jobject logger =
      env->GetObjectField(config, env->GetFieldID(cls, "logger", "Lorg/fieldcase/Logger;"));
  if (logger != nullptr) {
    out.logger = {new_service(env, logger), log_line,
                  env->GetIntField(config, env->GetFieldID(cls, "logLevel", "I")), destroy_service};
    out.c.logger = &out.logger;
  }
  if (env->ExceptionCheck()) {
    // Never handed to the library: give the global references back here.
    for (void* context : {out.keystore.context, out.transport.context, out.connectivity.context,
                          out.logger.context}) {
      if (context != nullptr) destroy_service(context);
    }
    return false;
  }
  return true;
}

// --- Sync progress ---

struct Listener {
  JNIEnv* env;
  jobject listener;
  jmethodID on_progress;
  jclass progress_class;
  jmethodID progress_ctor;
  jthrowable thrown = nullptr;  // global reference to what the listener threw
};

bool on_progress(void* context, const fc_sync_progress* p) {
  auto* l = static_cast<Listener*>(context);
  JNIEnv* env = l->env;
  LocalFrame frame(env);
  jobject progress = env->NewObject(
      l->progress_class, l->progress_ctor, static_cast<jlong>(p->transactions_sent),
      static_cast<jlong>(p->transactions_total), static_cast<jlong>(p->changes_received),
      static_cast<jlong>(p->bytes_sent), static_cast<jlong>(p->bytes_received), p->round);
  if (progress != nullptr) env->CallVoidMethod(l->listener, l->on_progress, progress);
  env->DeleteLocalRef(progress);
  if (env->ExceptionCheck()) {
    jthrowable ex = env->ExceptionOccurred();
    env->ExceptionClear();
    l->thrown = static_cast<jthrowable>(env->NewGlobalRef(ex));
    return false;  // stops the sync; the listener's exception is rethrown
  }
  return true;
}

jobject make_report(JNIEnv* env, const std::string& json_text) {
  const auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw_fieldcase(env, FC_DOMAIN_API, FC_API_UNEXPECTED, "sync report is not JSON");
    return nullptr;
  }
  jclass string_class = env->FindClass("java/lang/String");
  const auto& purged = j.value("purged_cases", nlohmann::json::array());
  jobjectArray cases =
      env->NewObjectArray(static_cast<jsize>(purged.size()), string_class, nullptr);
  for (std::size_t i = 0; i < purged.size(); ++i) {
    jstring id = to_jstring(env, purged[i].get<std::string>());
    env->SetObjectArrayElement(cases, static_cast<jsize>(i), id);
    env->DeleteLocalRef(id);
  }
  jclass cls = env->FindClass("org/fieldcase/SyncReport");
  jmethodID ctor =
      env->GetMethodID(cls, "<init>", "(IJJJJJ[Ljava/lang/String;ZLjava/lang/String;)V");
  return env->NewObject(cls, ctor, j.value("round_trips", 0), j.value("accepted", jlong{0}),
                        j.value("rejected", jlong{0}), j.value("changes_received", jlong{0}),
                        j.value("bytes_sent", jlong{0}), j.value("bytes_received", jlong{0}), cases,
                        static_cast<jboolean>(j.value("wiped", false)), to_jstring(env, json_text));
}

// Runs a native method body; a C++ exception (a bug, or out of memory) becomes a Java exception.
template <typename T, typename Body>
T guard(JNIEnv* env, T fallback, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    throw_fieldcase(env, FC_DOMAIN_API, FC_API_UNEXPECTED, e.what());
  } catch (...) {
    throw_fieldcase(env, FC_DOMAIN_API, FC_API_UNEXPECTED, "unexpected failure");
  }
  return fallback;
}

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL Java_org_fieldcase_Fieldcase_nativeApiVersion(JNIEnv*, jclass) {
  return fc_api_version();
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Fieldcase_nativeVersion(JNIEnv* env, jclass) {
  return guard(env, jstring{nullptr}, [&] { return to_jstring(env, fc_version()); });
}

JNIEXPORT jlong JNICALL Java_org_fieldcase_Fieldcase_nativeOpenDevices(JNIEnv*, jclass) {
  return open_devices.load();
}

JNIEXPORT jlong JNICALL Java_org_fieldcase_Device_nativeCreate(JNIEnv* env, jclass, jobject config,
                                                               jstring pin) {
  return guard(env, jlong{0}, [&]() -> jlong {
    Config c;
    if (!read_config(env, config, c)) return 0;
    SecretArg p(env, pin);
    fc_error err;
    fc_device* d = fc_device_create(&c.c, p.c_str(), &err);
    if (d == nullptr) {
      throw_error(env, err);
      return 0;
    }
    ++open_devices;
    return static_cast<jlong>(reinterpret_cast<std::uintptr_t>(d));
  });
}

JNIEXPORT jlong JNICALL Java_org_fieldcase_Device_nativeOpen(JNIEnv* env, jclass, jobject config) {
  return guard(env, jlong{0}, [&]() -> jlong {
    Config c;
    if (!read_config(env, config, c)) return 0;
    fc_error err;
    fc_device* d = fc_device_open(&c.c, &err);
    if (d == nullptr) {
      throw_error(env, err);
      return 0;
    }
    ++open_devices;
    return static_cast<jlong>(reinterpret_cast<std::uintptr_t>(d));
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeRelease(JNIEnv*, jclass, jlong handle) {
  fc_device_release(reinterpret_cast<fc_device*>(static_cast<std::uintptr_t>(handle)));
  --open_devices;
}

#define FC_JNI_BOOL_CALL(call) \
  fc_error err;                \
  if (!(call)) throw_error(env, err);

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeUnlock(JNIEnv* env, jclass, jlong h,
                                                              jstring pin) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    SecretArg p(env, pin);
    FC_JNI_BOOL_CALL(fc_device_unlock(d, p.c_str(), &err));
    return 0;
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeLock(JNIEnv* env, jclass, jlong h) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    FC_JNI_BOOL_CALL(fc_device_lock(d, &err));
    return 0;
  });
}

JNIEXPORT jboolean JNICALL Java_org_fieldcase_Device_nativeIsUnlocked(JNIEnv*, jclass, jlong h) {
  return fc_device_is_unlocked(reinterpret_cast<fc_device*>(static_cast<std::uintptr_t>(h)));
}

JNIEXPORT jboolean JNICALL Java_org_fieldcase_Device_nativePollIdle(JNIEnv* env, jclass, jlong h) {
  return guard(env, jboolean{false}, [&]() -> jboolean {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return false;
    bool locked = false;
    FC_JNI_BOOL_CALL(fc_device_poll_idle(d, &locked, &err));
    return locked;
  });
}

JNIEXPORT jint JNICALL Java_org_fieldcase_Device_nativeAttemptsLeft(JNIEnv*, jclass, jlong h) {
  return fc_device_attempts_left(reinterpret_cast<fc_device*>(static_cast<std::uintptr_t>(h)));
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeChangePin(JNIEnv* env, jclass, jlong h,
                                                                 jstring old_pin, jstring new_pin) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    SecretArg o(env, old_pin), n(env, new_pin);
    FC_JNI_BOOL_CALL(fc_device_change_pin(d, o.c_str(), n.c_str(), &err));
    return 0;
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeWipe(JNIEnv* env, jclass, jlong h,
                                                            jstring reason) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    Utf8Arg r(env, reason);
    FC_JNI_BOOL_CALL(fc_device_wipe(d, r.c_str(), &err));
    return 0;
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeSetToken(JNIEnv* env, jclass, jlong h,
                                                                jstring token) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    SecretArg t(env, token);
    FC_JNI_BOOL_CALL(fc_device_set_token(d, t.c_str(), &err));
    return 0;
  });
}

// A native method returning the C API's string: the arguments (declared in `...`) are
// converted inside the guard, so nothing can throw across the JNI boundary.
#define FC_JNI_STRING_CALL(expr, ...)                    \
  return guard(env, jstring{nullptr}, [&]() -> jstring { \
    fc_device* d = device_of(env, h);                    \
    if (d == nullptr) return nullptr;                    \
    __VA_ARGS__;                                         \
    fc_error err;                                        \
    char* text = (expr);                                 \
    return take_string(env, text, err);                  \
  })

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeCaseload(JNIEnv* env, jclass, jlong h) {
  FC_JNI_STRING_CALL(fc_device_caseload(d, &err), (void)0);
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeMyDay(JNIEnv* env, jclass, jlong h,
                                                                jstring date) {
  FC_JNI_STRING_CALL(fc_device_my_day(d, day.c_str(), &err), Utf8Arg day(env, date));
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeGetRecord(JNIEnv* env, jclass, jlong h,
                                                                    jstring id) {
  FC_JNI_STRING_CALL(fc_device_get_record(d, i.c_str(), &err), Utf8Arg i(env, id));
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeList(JNIEnv* env, jclass, jlong h,
                                                               jstring kind, jstring case_id) {
  FC_JNI_STRING_CALL(fc_device_list_records(d, k.c_str(), c.c_str(), &err), Utf8Arg k(env, kind),
                     c(env, case_id));
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeHistory(JNIEnv* env, jclass, jlong h,
                                                                  jstring id) {
  FC_JNI_STRING_CALL(fc_device_history(d, i.c_str(), &err), Utf8Arg i(env, id));
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeConflicts(JNIEnv* env, jclass, jlong h) {
  FC_JNI_STRING_CALL(fc_device_conflicts(d, &err), (void)0);
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeResolveConflict(JNIEnv* env, jclass,
                                                                       jlong h, jstring id,
                                                                       jstring value) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    Utf8Arg i(env, id), v(env, value);
    FC_JNI_BOOL_CALL(fc_device_resolve_conflict(d, i.c_str(), v.c_str(), &err));
    return 0;
  });
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeRejections(JNIEnv* env, jclass, jlong h) {
  FC_JNI_STRING_CALL(fc_device_rejections(d, &err), (void)0);
}

JNIEXPORT jlong JNICALL Java_org_fieldcase_Device_nativePending(JNIEnv* env, jclass, jlong h) {
  return guard(env, jlong{0}, [&]() -> jlong {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    int64_t n = 0;
    FC_JNI_BOOL_CALL(fc_device_pending_transactions(d, &n, &err));
    return n;
  });
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeCreateRecord(JNIEnv* env, jclass, jlong h,
                                                                       jstring kind,
                                                                       jstring case_id,
                                                                       jstring fields) {
  FC_JNI_STRING_CALL(fc_device_create_record(d, k.c_str(), c.c_str(), f.c_str(), &err),
                     Utf8Arg k(env, kind), c(env, case_id), f(env, fields));
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeUpdate(JNIEnv* env, jclass, jlong h,
                                                              jstring id, jstring changes) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    Utf8Arg i(env, id), c(env, changes);
    FC_JNI_BOOL_CALL(fc_device_update_record(d, i.c_str(), c.c_str(), &err));
    return 0;
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeDelete(JNIEnv* env, jclass, jlong h,
                                                              jstring id) {
  guard(env, 0, [&] {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return 0;
    Utf8Arg i(env, id);
    FC_JNI_BOOL_CALL(fc_device_delete_record(d, i.c_str(), &err));
    return 0;
  });
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeWrite(JNIEnv* env, jclass, jlong h,
                                                                jstring ops) {
  FC_JNI_STRING_CALL(fc_device_write(d, o.c_str(), &err), Utf8Arg o(env, ops));
}

JNIEXPORT jstring JNICALL Java_org_fieldcase_Device_nativeAttach(JNIEnv* env, jclass, jlong h,
                                                                 jstring parent, jstring filename,
                                                                 jstring media_type,
                                                                 jbyteArray bytes,
                                                                 jstring caption) {
  return guard(env, jstring{nullptr}, [&]() -> jstring {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return nullptr;
    Utf8Arg p(env, parent), f(env, filename), m(env, media_type), c(env, caption);
    std::vector<uint8_t> content;
    if (bytes != nullptr) {
      content.resize(static_cast<std::size_t>(env->GetArrayLength(bytes)));
      env->GetByteArrayRegion(bytes, 0, static_cast<jsize>(content.size()),
                              reinterpret_cast<jbyte*>(content.data()));
    }
    static const uint8_t kEmpty = 0;
    const uint8_t* data = bytes == nullptr ? nullptr : content.empty() ? &kEmpty : content.data();
    fc_error err;
    char* text =
        fc_device_attach(d, p.c_str(), f.c_str(), m.c_str(), data, content.size(), c.c_str(), &err);
    return take_string(env, text, err);
  });
}

JNIEXPORT jbyteArray JNICALL Java_org_fieldcase_Device_nativeAttachment(JNIEnv* env, jclass,
                                                                        jlong h, jstring id) {
  return guard(env, jbyteArray{nullptr}, [&]() -> jbyteArray {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return nullptr;
    Utf8Arg i(env, id);
    fc_error err;
    size_t size = 0;
    uint8_t* bytes = fc_device_attachment_bytes(d, i.c_str(), &size, &err);
    if (bytes == nullptr) {
      throw_error(env, err);
      return nullptr;
    }
    jbyteArray out = env->NewByteArray(static_cast<jsize>(size));
    if (out != nullptr) {
      env->SetByteArrayRegion(out, 0, static_cast<jsize>(size),
                              reinterpret_cast<const jbyte*>(bytes));
    }
    fc_bytes_release(bytes);
    return out;
  });
}

JNIEXPORT jobject JNICALL Java_org_fieldcase_Device_nativeSync(JNIEnv* env, jclass, jlong h,
                                                               jobject listener) {
  return guard(env, jobject{nullptr}, [&]() -> jobject {
    fc_device* d = device_of(env, h);
    if (d == nullptr) return nullptr;
    Listener l{env, listener, nullptr, nullptr, nullptr};
    if (listener != nullptr) {
      l.on_progress = env->GetMethodID(env->GetObjectClass(listener), "onProgress",
                                       "(Lorg/fieldcase/SyncProgress;)V");
      l.progress_class = env->FindClass("org/fieldcase/SyncProgress");
      l.progress_ctor = env->GetMethodID(l.progress_class, "<init>", "(JJJJJI)V");
      if (env->ExceptionCheck()) return nullptr;
    }
    fc_error err;
    char* report = fc_device_sync(d, listener != nullptr ? on_progress : nullptr, &l, &err);
    if (l.thrown != nullptr) {
      fc_string_release(report);
      env->Throw(l.thrown);
      env->DeleteGlobalRef(l.thrown);
      return nullptr;
    }
    if (report == nullptr) {
      throw_error(env, err);
      return nullptr;
    }
    const std::string text(report);
    fc_string_release(report);
    return make_report(env, text);
  });
}

JNIEXPORT void JNICALL Java_org_fieldcase_Device_nativeCancelSync(JNIEnv*, jclass, jlong h) {
  fc_device_cancel_sync(reinterpret_cast<fc_device*>(static_cast<std::uintptr_t>(h)));
}

}  // extern "C"
