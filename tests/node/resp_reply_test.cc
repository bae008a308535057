#include "node/resp/reply.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

namespace converge::resp {
namespace {

TEST(RespReplyTest, SimpleString) {
  std::string out;
  AppendSimpleString(&out, "OK");
  EXPECT_EQ(out, "+OK\r\n");
  out.clear();
  AppendSimpleString(&out, "a\r\nb\nc");
  EXPECT_EQ(out, "+a  b c\r\n");
}

TEST(RespReplyTest, Error) {
  std::string out;
  AppendError(&out, "ERR unknown command 'FOO'");
  EXPECT_EQ(out, "-ERR unknown command 'FOO'\r\n");
  out.clear();
  AppendError(&out, "-WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(out, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
  out.clear();
  AppendError(&out, "ERR bad\r\n+OK");  // user input cannot smuggle a second reply
  EXPECT_EQ(out, "-ERR bad  +OK\r\n");
  out.clear();
  AppendProtocolError(&out, "invalid bulk length");
  EXPECT_EQ(out, "-ERR Protocol error: invalid bulk length\r\n");
}

TEST(RespReplyTest, Integer) {
  std::string out;
  AppendInteger(&out, 0);
  AppendInteger(&out, -42);
  AppendInteger(&out, std::numeric_limits<int64_t>::max());
  AppendInteger(&out, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(out, ":0\r\n:-42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
}

TEST(RespReplyTest, BulkAndNil) {
  std::string out;
  AppendBulk(&out, "hello");
  AppendBulk(&out, "");
  AppendBulk(&out, std::string_view("a\0\r\n", 4));
  AppendNullBulk(&out);
  EXPECT_EQ(out, std::string("$5\r\nhello\r\n$0\r\n\r\n$4\r\na\0\r\n\r\n$-1\r\n", 32));
}

TEST(RespReplyTest, Arrays) {
  std::string out;
  AppendArrayHeader(&out, 2);
  AppendBulk(&out, "a");
  AppendInteger(&out, 1);
  AppendArrayHeader(&out, 0);
  AppendNullArray(&out);
  EXPECT_EQ(out, "*2\r\n$1\r\na\r\n:1\r\n*0\r\n*-1\r\n");
}

TEST(RespReplyTest, AppendsWithoutTouchingWhatIsThere) {
  std::string out = "+PONG\r\n";
  AppendInteger(&out, 7);
  EXPECT_EQ(out, "+PONG\r\n:7\r\n");
}

// hiredis's own reply reader is what redis-cli and most clients use to read
// us: everything we write must come out of it intact.
TEST(RespReplyTest, HiredisReadsOurReplies) {
  std::string out;
  AppendSimpleString(&out, "OK");
  AppendError(&out, "ERR boom\nbang");
  AppendInteger(&out, -7);
  const std::string binary("x\0\r\ny", 5);
  AppendBulk(&out, binary);
  AppendNullBulk(&out);
  AppendArrayHeader(&out, 3);
  AppendBulk(&out, "a");
  AppendNullBulk(&out);
  AppendInteger(&out, 9);
  AppendNullArray(&out);

  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(),
                                                                  &redisReaderFree);
  // Byte by byte, as a client reading a slow socket would.
  for (char c : out) ASSERT_EQ(redisReaderFeed(reader.get(), &c, 1), REDIS_OK);

  auto next = [&]() {
    void* reply = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader.get(), &reply), REDIS_OK);
    return std::unique_ptr<redisReply, decltype(&freeReplyObject)>(
        static_cast<redisReply*>(reply), &freeReplyObject);
  };
  auto r = next();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(r->str, r->len), "OK");
  r = next();
  EXPECT_EQ(r->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(std::string(r->str, r->len), "ERR boom bang");
  r = next();
  EXPECT_EQ(r->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r->integer, -7);
  r = next();
  EXPECT_EQ(r->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(r->str, r->len), binary);
  r = next();
  EXPECT_EQ(r->type, REDIS_REPLY_NIL);
  r = next();
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 3u);
  EXPECT_EQ(std::string(r->element[0]->str, r->element[0]->len), "a");
  EXPECT_EQ(r->element[1]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(r->element[2]->integer, 9);
  r = next();
  EXPECT_EQ(r->type, REDIS_REPLY_NIL);  // hiredis reads a nil array as nil
  r = next();
  EXPECT_EQ(r, nullptr);  // nothing left over
}

}  // namespace
}  // namespace converge::resp
