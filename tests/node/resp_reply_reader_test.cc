// ReadReply decodes what the reply writers (node/resp/reply.h) append, and
// refuses anything malformed without crashing.
#include "node/resp/reply_reader.h"

#include <gtest/gtest.h>

#include "node/resp/reply.h"

namespace converge::resp {
namespace {

TEST(RespReplyReaderTest, DecodesEveryKindTheWritersProduce) {
  std::string out;
  AppendSimpleString(&out, "OK");
  AppendError(&out, "WRONGTYPE Operation against a key holding the wrong kind of value");
  AppendInteger(&out, -42);
  AppendBulk(&out, std::string("a\r\n\0b", 5));
  AppendNullBulk(&out);
  AppendArrayHeader(&out, 2);
  AppendBulk(&out, "f");
  AppendInteger(&out, 7);
  AppendNullArray(&out);

  size_t pos = 0;
  auto next = [&] {
    StatusOr<ReplyValue> v = ReadReply(out, &pos);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : ReplyValue{};
  };
  ReplyValue v = next();
  EXPECT_EQ(v.kind, ReplyValue::Kind::kSimpleString);
  EXPECT_EQ(v.text, "OK");
  v = next();
  EXPECT_TRUE(v.is_error());
  EXPECT_EQ(v.text.rfind("WRONGTYPE ", 0), 0u);
  v = next();
  EXPECT_EQ(v.kind, ReplyValue::Kind::kInteger);
  EXPECT_EQ(v.integer, -42);
  v = next();
  EXPECT_EQ(v.kind, ReplyValue::Kind::kBulk);
  EXPECT_EQ(v.text, std::string("a\r\n\0b", 5));
  EXPECT_EQ(next().kind, ReplyValue::Kind::kNil);
  v = next();
  ASSERT_EQ(v.kind, ReplyValue::Kind::kArray);
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].text, "f");
  EXPECT_EQ(v.elements[1].integer, 7);
  EXPECT_EQ(next().kind, ReplyValue::Kind::kNil);
  EXPECT_EQ(pos, out.size());
}

TEST(RespReplyReaderTest, RefusesMalformedReplies) {
  for (const std::string bad : {"", "+OK", ":12x\r\n", "$5\r\nab\r\n", "$-2\r\n", "$3\r\nabcde",
                                "*3\r\n:1\r\n", "*-7\r\n", "?x\r\n", "*99999999\r\n",
                                ":99999999999999999999\r\n"}) {
    size_t pos = 0;
    StatusOr<ReplyValue> v = ReadReply(bad, &pos);
    EXPECT_EQ(v.status().code(), StatusCode::kCorruption) << "input: " << bad;
  }
  std::string deep;
  for (int i = 0; i < kMaxReplyDepth + 2; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  size_t pos = 0;
  EXPECT_EQ(ReadReply(deep, &pos).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace converge::resp
