// ASSERT_OK / EXPECT_OK print the status on failure.
#ifndef CONVERGE_TESTS_TESTING_STATUS_MATCHERS_H_
#define CONVERGE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <gtest/gtest.h>

#include "crdt/status.h"

namespace converge::testing {
inline const Status& AsStatus(const Status& s) { return s; }
template <class T>
Status AsStatus(const StatusOr<T>& s) {
  return s.status();
}
}  // namespace converge::testing

#define ASSERT_OK(expr) ASSERT_TRUE(::converge::testing::AsStatus(expr).ok()) \
    << ::converge::testing::AsStatus(expr).ToString()
#define EXPECT_OK(expr) EXPECT_TRUE(::converge::testing::AsStatus(expr).ok()) \
    << ::converge::testing::AsStatus(expr).ToString()

#endif  // CONVERGE_TESTS_TESTING_STATUS_MATCHERS_H_
