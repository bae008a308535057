#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509err.h>
#include <openssl/x509.h>

#include "transport/stream.h"

namespace converge::transport {
namespace {

// asio's message for an OpenSSL error, plus the library's reason string,
// which names the actual problem ("no start line", "key values mismatch").
std::string SslErrorText(const asio::error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    if (reason != nullptr && text.find(reason) == std::string::npos) {
      text += std::string(" (") + reason + ")";
    }
  }
  return text;
}

constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

Status FileError(const char* what, const std::string& path, const asio::error_code& ec) {
  return InvalidArgumentError(std::string(what) + " '" + path + "': " + SslErrorText(ec));
}

}  // namespace

StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const TlsFiles& files,
                                                             TlsVerify verify) {
  if (files.cert_file.empty() || files.key_file.empty() || files.ca_file.empty()) {
    return InvalidArgumentError("TLS needs a certificate, its key and the CA (--tls-cert, "
                                "--tls-key, --tls-ca)");
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls);
  asio::error_code ec;
  // TLS 1.2 and 1.3 only; no compression (CRIME), fresh DH keys per session.
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use,
                   ec);
  if (ec) return InternalError("TLS context options: " + SslErrorText(ec));
  // Forward-secret AEAD suites only, AES-128-GCM first and by our choice
  // rather than the client's: AES-128 does fewer rounds per block than the
  // AES-256 that clients offer first, and on small records it saved ~7% of
  // the node's CPU per request (bench/RESULTS.md, TLS).
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_ciphersuites(ctx->native_handle(), kTls13Suites) != 1 ||
      SSL_CTX_set_cipher_list(ctx->native_handle(), kTls12Ciphers) != 1) {
    ERR_clear_error();
    return InternalError("TLS cipher suites refused by this OpenSSL");
  }
  if (ctx->use_certificate_chain_file(files.cert_file, ec); ec) {
    return FileError("cannot load the TLS certificate", files.cert_file, ec);
  }
  ctx->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if ((ec && ec.category() == asio::error::get_ssl_category() &&
       ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) ||
      (!ec && SSL_CTX_check_private_key(ctx->native_handle()) != 1)) {
    ERR_clear_error();
    return InvalidArgumentError("TLS key '" + files.key_file + "' does not match certificate '" +
                                files.cert_file + "'");
  }
  if (ec) return FileError("cannot load the TLS key", files.key_file, ec);
  if (ctx->load_verify_file(files.ca_file, ec); ec) {
    return FileError("cannot load the TLS CA", files.ca_file, ec);
  }
  const asio::ssl::verify_mode mode =
      verify == TlsVerify::kRequire
          ? asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert
          : asio::ssl::verify_none;
  if (ctx->set_verify_mode(mode, ec); ec) {
    return InternalError("TLS verify mode: " + SslErrorText(ec));
  }
  return ctx;
}

StatusOr<std::shared_ptr<TlsContextSlot>> TlsContextSlot::Open(TlsFiles files, TlsVerify verify) {
  StatusOr<std::shared_ptr<asio::ssl::context>> ctx = MakeTlsContext(files, verify);
  if (!ctx.ok()) return ctx.status();
  return std::shared_ptr<TlsContextSlot>(new TlsContextSlot(std::move(files), verify, std::move(*ctx)));
}

std::shared_ptr<asio::ssl::context> TlsContextSlot::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ctx_;
}

// Built outside the lock: loading PEM files takes a while, Get() must not wait.
StatusOr<std::shared_ptr<asio::ssl::context>> TlsContextSlot::Load() const {
  return MakeTlsContext(files_, verify_);
}

void TlsContextSlot::Set(std::shared_ptr<asio::ssl::context> ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  ctx_ = std::move(ctx);
}

Status TlsContextSlot::Reload() {
  StatusOr<std::shared_ptr<asio::ssl::context>> ctx = Load();
  if (!ctx.ok()) return ctx.status();
  Set(std::move(*ctx));
  return Status::Ok();
}

std::string Stream::VerifyError() const {
  if (!tls_) return "";
  // const_cast: native_handle() is not const in asio, but only reads here.
  SSL* ssl = const_cast<asio::ssl::stream<asio::ip::tcp::socket&>&>(*tls_).native_handle();
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

std::string DescribeTlsError(const asio::error_code& ec, const Stream& stream) {
  std::string text = SslErrorText(ec);
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    text = "the other side closed the connection during the TLS handshake (it may have refused "
           "our certificate)";
  }
  if (std::string why = stream.VerifyError(); !why.empty()) {
    text += ": peer certificate refused: " + why;
  }
  const bool ssl = ec.category() == asio::error::get_ssl_category();
  const int reason = ssl ? ERR_GET_REASON(static_cast<unsigned long>(ec.value())) : 0;
  if (ssl && reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA) {
    text += " (the other side does not trust the CA that signed our certificate)";
  } else if (ssl && reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED) {
    text += " (the other side says our certificate has expired)";
  } else if (ssl && reason >= SSL_AD_REASON_OFFSET) {
    text += " (an alert from the other side: it refused our certificate or the handshake)";
  }
  if (ssl && (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
       reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_PACKET_LENGTH_TOO_LONG)) {
    text += " (not TLS: a plain-TCP client or peer on a TLS port?)";
  }
  return text;
}

}  // namespace converge::transport
