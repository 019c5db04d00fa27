// Favicon loading for minecraft:server (see the header): the PNG signature
// and the IHDR chunk's size are checked, nothing else of the image.
#include "plugins/minecraft/favicon.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace plugins::minecraft {

using common::Status;

namespace {

std::uint32_t BigEndian32(std::string_view b) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[0])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[3]));
}

}  // namespace

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                      (static_cast<unsigned char>(in[i + 1]) << 8) |
                      static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    std::uint32_t v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

common::Result<std::string> FaviconDataUri(std::string_view bytes) {
  static constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
  if (bytes.size() > kMaxFaviconBytes) {
    return Status::InvalidArgument("is " + std::to_string(bytes.size()) +
                                   " bytes; a favicon may have at most " +
                                   std::to_string(kMaxFaviconBytes));
  }
  // Signature, then the IHDR chunk: length 13, "IHDR", width, height.
  if (bytes.size() < 8 + 8 + 13 || bytes.substr(0, 8) != kSignature ||
      bytes.substr(12, 4) != "IHDR") {
    return Status::InvalidArgument("is not a PNG image");
  }
  const std::uint32_t width = BigEndian32(bytes.substr(16, 4));
  const std::uint32_t height = BigEndian32(bytes.substr(20, 4));
  if (width != 64 || height != 64) {
    return Status::InvalidArgument("is " + std::to_string(width) + "x" + std::to_string(height) +
                                   " pixels; the server list needs 64x64");
  }
  return "data:image/png;base64," + Base64(bytes);
}

common::Result<std::string> ReadFavicon(const std::string& path) {
  common::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return Status::FromErrno("cannot read " + path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("cannot read " + path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + " is not a regular file");
  std::string bytes;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot read " + path, errno);
    if (n == 0) break;
    bytes.append(buf, static_cast<std::size_t>(n));
    if (bytes.size() > kMaxFaviconBytes) break;  // enough to say it is too large
  }
  auto uri = FaviconDataUri(bytes);
  if (!uri.ok()) {
    if (bytes.size() > kMaxFaviconBytes) {
      return Status::InvalidArgument(path + " is larger than " + std::to_string(kMaxFaviconBytes) +
                                     " bytes, too large for a favicon");
    }
    return Status::InvalidArgument(path + " " + uri.status().message());
  }
  return uri;
}

}  // namespace plugins::minecraft
