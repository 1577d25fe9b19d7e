#include <catch2/catch.hpp>

#include "fieldcase/json_bounds.hpp"
#include "fieldcase/sync_protocol.hpp"

using namespace fieldcase;
using namespace fieldcase::sync;

namespace {

const std::string kTx = "01890a5d-ac96-774b-bcce-b302099a8057";
const std::string kRec = "01890a5d-ac96-774b-bcce-b302099a8058";
const std::string kCase = "01890a5d-ac96-774b-bcce-b302099a8059";
const std::string kOp = "01890a5d-ac96-774b-bcce-b302099a8060";
const std::string kHlc = "001700000000000.000001.dev-1";

SyncRequest sample_request() {
  SyncRequest req;
  req.device_time = "2026-11-26T10:00:00.000Z";
  req.cursor = 42;
  Transaction tx;
  tx.tx_id = kTx;
  Op op;
  op.op_id = kOp;
  op.op = FieldChange::Op::set;
  op.record_id = kRec;
  op.kind = RecordKind::visit;
  op.case_id = kCase;
  op.field = "child_seen";
  op.value = true;
  op.hlc = kHlc;
  op.at = "2026-11-26T09:59:00.000Z";
  tx.ops.push_back(op);
  req.transactions.push_back(tx);
  return req;
}

}  // namespace

TEST_CASE("sync requests round-trip through JSON", "[sync]") {
  auto back = decode_request(encode(sample_request()));
  REQUIRE(back.ok());
  REQUIRE(back->transactions.size() == 1);
  const Op& op = back->transactions[0].ops[0];
  CHECK(op.kind == RecordKind::visit);
  CHECK(op.field == "child_seen");
  CHECK(std::get<bool>(op.value));
  CHECK(back->cursor == 42);
}

TEST_CASE("json bounds: size, depth and UTF-8 are checked before any parser runs",
          "[sync][security]") {
  const JsonBounds bounds{100, 3};
  CHECK(check_json_bounds(R"({"a":[[1]]})", bounds).ok());
  CHECK(check_json_bounds(R"({"a":[[[1]]]})", bounds).message() ==
        "the document is nested too deeply");
  // Brackets inside strings (escaped quotes included) are text, not nesting.
  CHECK(check_json_bounds(R"({"a":"[[[[\"[[[["})", bounds).ok());
  CHECK(check_json_bounds(std::string(101, ' '), bounds).message() ==
        "the document is larger than 100 bytes");
  CHECK(check_json_bounds("{\"a\":\"\xc3\x28\"}", bounds).message() ==
        "the document is not valid UTF-8");
  CHECK(check_json_bounds("", bounds).ok());  // whether it is JSON is the parser's to say
}

TEST_CASE("sync request decoding names what is wrong and never throws", "[sync][security]") {
  auto err = [](const std::string& text) { return decode_request(text).status(); };
  CHECK(err("not json").message() == "the document is not valid JSON");
  CHECK(err("[]").message() == "the document must be a JSON object");
  CHECK(err(std::string(100, '[') + std::string(100, ']')).message() ==
        "the document is nested too deeply");
  CHECK(err("{\"protocol\":\"1\"}").message() == "request.protocol must be an integer");
  CHECK(err("{\"protocol\":9,\"device_time\":\"x\",\"cursor\":0}").code() == Errc::unsupported);
  CHECK(err("{\"protocol\":1,\"device_time\":\"yesterday\",\"cursor\":0}").message() ==
        "request.device_time must be a UTC time");
  CHECK(err(std::string("{\"protocol\":1,\"device_time\":\"\xff\"}")).message() ==
        "the document is not valid UTF-8");

  std::string good = encode(sample_request());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    s.replace(pos, from.size(), to);
    return decode_request(s).status();
  };
  CHECK(with("\"visit\"", "\"spaceship\"").message() ==
        "request.transactions[0].ops[0].kind 'spaceship' is not a record kind");
  CHECK(with(kRec, "1; DROP TABLE record").message() ==
        "request.transactions[0].ops[0].record_id must be a UUID");
  CHECK(with(kHlc, "later").message() == "request.transactions[0].ops[0].hlc is not a clock stamp");
  CHECK(with("\"value\":true", "\"value\":{\"a\":1}").code() == Errc::invalid_argument);
  CHECK(with("\"op\":\"set\"", "\"op\":\"drop\"").message() ==
        "request.transactions[0].ops[0].op must be create, set or remove");
}

TEST_CASE("sync responses round-trip through JSON", "[sync]") {
  SyncResponse res;
  res.server_time = "2026-11-26T10:00:01.000Z";
  res.accepted = {kTx};
  res.rejected = {{kTx, "validation", "visit.end_at: must not be before start_at"}};
  Change c;
  c.seq = 7;
  c.record_id = kRec;
  c.kind = RecordKind::case_note;
  c.case_id = kCase;
  c.field = "text";
  c.value = std::string("seen at home \xe2\x9c\x93");
  c.hlc = kHlc;
  c.author = "w1";
  res.changes = {c};
  res.instructions = {{Instruction::Type::purge_case, kCase, "case reallocated"},
                      {Instruction::Type::wipe, "", "device revoked"}};
  res.cursor = 7;
  res.more = true;
  auto back = decode_response(encode(res));
  REQUIRE(back.ok());
  CHECK(back->accepted == res.accepted);
  CHECK(back->rejected[0].reason == res.rejected[0].reason);
  CHECK(std::get<std::string>(back->changes[0].value) == "seen at home \xe2\x9c\x93");
  CHECK(back->instructions.size() == 2);
  CHECK(back->instructions[0].case_id == kCase);
  CHECK(back->instructions[1].type == Instruction::Type::wipe);
  CHECK(back->more);
  CHECK(back->offline_limit_days == 0);
  res.offline_limit_days = 14;
  back = decode_response(encode(res));
  REQUIRE(back.ok());
  CHECK(back->offline_limit_days == 14);
}

TEST_CASE("error bodies carry a refused device's wipe instruction", "[sync][security]") {
  const std::string body = encode_error(kErrorDeviceRevoked, "this device has been revoked",
                                        {{Instruction::Type::wipe, "", "revoked"}});
  auto back = decode_error(body);
  REQUIRE(back.ok());
  CHECK(back->code == "device_revoked");
  CHECK(back->message == "this device has been revoked");
  REQUIRE(back->instructions.size() == 1);
  CHECK(back->instructions[0].type == Instruction::Type::wipe);
  auto plain = decode_error(encode_error("bad_request", "no"));
  REQUIRE(plain.ok());
  CHECK(plain->instructions.empty());
  CHECK(decode_error("{}").code() == Errc::invalid_argument);
  CHECK(decode_error("[1]").code() == Errc::invalid_argument);
  CHECK(decode_response(R"({"protocol":1,"server_time":"x","cursor":0,"offline_limit_days":-1})")
            .code() == Errc::invalid_argument);
}
