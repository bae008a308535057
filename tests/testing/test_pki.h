// A throwaway PKI for TLS tests: CAs and node certificates made at test time
// with the openssl command line in a temporary directory (no private key is
// ever committed), removed when the TestPki goes away.
#ifndef CONVERGE_TESTS_TESTING_TEST_PKI_H_
#define CONVERGE_TESTS_TESTING_TEST_PKI_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace converge::testing {

class TestPki {
 public:
  TestPki() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "converge-pki-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) dir_ = buf.data();
  }
  ~TestPki() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  std::string Cert(const std::string& name) const { return dir_ + "/" + name + ".crt"; }
  std::string Key(const std::string& name) const { return dir_ + "/" + name + ".key"; }

  // A self-signed CA `name` (name.crt, name.key). False if openssl failed.
  bool MakeCa(const std::string& name) {
    return Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
               " -keyout " + Key(name) + " -out " + Cert(name) + " -days 2 -subj /CN=" + name);
  }
  // A certificate `name` signed by CA `ca`, valid for `days` (negative:
  // already expired), for 127.0.0.1 and localhost.
  bool MakeCert(const std::string& name, const std::string& ca, int days = 2) {
    const std::string ext = dir_ + "/" + name + ".ext";
    {
      std::ofstream out(ext);
      out << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    }
    return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
               Key(name) + " -out " + dir_ + "/" + name + ".csr -subj /CN=" + name) &&
           Run("openssl x509 -req -in " + dir_ + "/" + name + ".csr -CA " + Cert(ca) +
               " -CAkey " + Key(ca) + " -CAcreateserial -out " + Cert(name) + " -days " +
               std::to_string(days) + " -extfile " + ext);
  }
  // A file of `bytes` named `name` in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

 private:
  static bool Run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }
  std::string dir_;
};

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_TESTING_TEST_PKI_H_
