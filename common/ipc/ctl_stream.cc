#include "common/ipc/ctl_stream.h"

#include <algorithm>
#include <cstdio>

namespace ipc::ctl {
namespace {

using common::Result;
using common::Status;

std::string ShowByte(unsigned char c) {
  char buf[16];
  if (c > 0x20 && c < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  }
  return buf;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

StreamDecoder::StreamDecoder(Codec codec, std::size_t max_packet_bytes)
    : codec_(codec), max_(max_packet_bytes) {}

void StreamDecoder::Feed(std::string_view bytes) {
  if (!failed_.ok()) return;
  buf_.append(bytes);
}

bool StreamDecoder::Idle() const {
  if (started_) return false;
  if (codec_ == Codec::kCbor) return start_ == buf_.size();
  return std::all_of(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.end(), IsJsonSpace);
}

void StreamDecoder::Compact() {
  // Drop consumed bytes once they are most of the buffer: amortised O(1) per
  // byte, and what stays is the packet in progress.
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  } else if (start_ > 4096 && start_ > buf_.size() / 2) {
    buf_.erase(0, start_);
    start_ = 0;
  }
}

common::Result<std::optional<Packet>> StreamDecoder::Next() {
  if (!failed_.ok()) return failed_;
  Result<bool> done = codec_ == Codec::kJson ? ScanJson() : ScanCbor();
  if (!done.ok()) {
    failed_ = done.status();
    buf_.clear();
    start_ = 0;
    return failed_;
  }
  if (!*done) {
    Compact();
    return std::optional<Packet>();
  }
  std::string_view bytes(buf_.data() + start_, scan_);
  Result<Packet> p = DecodePacket(codec_, bytes);
  start_ += scan_;
  scan_ = 0;
  started_ = complete_ = in_string_ = escape_ = false;
  depth_ = 0;
  stack_.clear();
  Compact();
  if (!p.ok()) {
    failed_ = p.status();
    buf_.clear();
    start_ = 0;
    return failed_;
  }
  return std::optional<Packet>(std::move(p).value());
}

namespace {
Status TooLarge(std::size_t max) {
  return Status::ProtocolError("packet is larger than " + std::to_string(max) + " bytes");
}
Status TooDeep() {
  return Status::ProtocolError("packet nests deeper than " + std::to_string(kMaxDepth) + " levels");
}
}  // namespace

// Finds where the JSON object starting at start_ ends by tracking strings and
// bracket depth, resuming where the last call stopped; the parser checks the
// rest of the syntax once the object is whole.
common::Result<bool> StreamDecoder::ScanJson() {
  if (!started_) {
    while (start_ < buf_.size() && IsJsonSpace(buf_[start_])) ++start_;
    if (start_ == buf_.size()) return false;
    const char c = buf_[start_];
    if (c != '{') {
      return Status::ProtocolError("invalid JSON: a packet must be an object, got " +
                                   ShowByte(static_cast<unsigned char>(c)));
    }
    started_ = true;
  }
  while (start_ + scan_ < buf_.size()) {
    if (scan_ >= max_) return TooLarge(max_);
    const char c = buf_[start_ + scan_++];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (++depth_ > kMaxDepth) return TooDeep();
        break;
      case '}':
      case ']':
        if (--depth_ == 0) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

// Walks the CBOR data item starting at start_ header by header, keeping the
// open arrays, maps, tags and indefinite strings on stack_, resuming where
// the last call stopped. Only the framing is checked here; the parser checks
// the rest once the item is whole.
common::Result<bool> StreamDecoder::ScanCbor() {
  auto at = [this](std::size_t pos) { return static_cast<std::uint8_t>(buf_[start_ + pos]); };
  auto invalid = [](std::string what, std::size_t pos) {
    return Status::ProtocolError("invalid CBOR: " + what + " at byte " + std::to_string(pos));
  };
  if (!started_) {
    if (start_ == buf_.size()) return false;
    if ((at(0) >> 5) != 5) {
      return Status::ProtocolError("invalid CBOR: a packet must be a map, got initial " +
                                   ShowByte(at(0)));
    }
    started_ = true;
  }
  const std::size_t avail = buf_.size() - start_;
  while (!complete_) {
    if (scan_ >= max_) return TooLarge(max_);
    if (scan_ >= avail) return false;
    const std::uint8_t ib = at(scan_);
    const int major = ib >> 5;
    const int ai = ib & 31;
    if (ib == 0xff) {
      if (stack_.empty() || !stack_.back().indefinite) {
        return invalid("unexpected break code", scan_);
      }
      stack_.pop_back();
      ++scan_;
      ItemDone();
      continue;
    }
    std::size_t hdr = 1;
    std::uint64_t arg = static_cast<std::uint64_t>(ai);
    bool indefinite = false;
    if (ai >= 24 && ai <= 27) {
      hdr = 1 + (std::size_t{1} << (ai - 24));
      if (scan_ + hdr > max_) return TooLarge(max_);
      if (scan_ + hdr > avail) return false;
      arg = 0;
      for (std::size_t i = 1; i < hdr; ++i) arg = (arg << 8) | at(scan_ + i);
    } else if (ai == 31) {
      if (major == 0 || major == 1 || major == 6 || major == 7) {
        return invalid("indefinite length for major type " + std::to_string(major), scan_);
      }
      indefinite = true;
    } else if (ai >= 28) {
      return invalid("reserved additional information " + std::to_string(ai), scan_);
    }
    if (!stack_.empty() && stack_.back().string_major >= 0 &&
        (major != stack_.back().string_major || indefinite)) {
      return invalid("bad chunk in an indefinite-length string", scan_);
    }
    auto push = [this](Frame f) -> Status {
      if (stack_.size() >= kMaxDepth) return TooDeep();
      stack_.push_back(f);
      return Status::Ok();
    };
    switch (major) {
      case 2:
      case 3:
        if (indefinite) {
          if (auto st = push({0, true, major}); !st.ok()) return st;
          scan_ += hdr;
          break;
        }
        if (arg > max_ || scan_ + hdr + arg > max_) return TooLarge(max_);
        if (scan_ + hdr + arg > avail) return false;
        scan_ += hdr + static_cast<std::size_t>(arg);
        ItemDone();
        break;
      case 4:
      case 5:
        if (indefinite) {
          if (auto st = push({0, true, -1}); !st.ok()) return st;
          scan_ += hdr;
          break;
        }
        // Each item takes at least one byte: a count beyond the limit can
        // never fit.
        if (arg > max_) return TooLarge(max_);
        scan_ += hdr;
        if (arg == 0) {
          ItemDone();
        } else if (auto st = push({major == 5 ? arg * 2 : arg, false, -1}); !st.ok()) {
          return st;
        }
        break;
      case 6:  // a tag: one item follows (the parser refuses tags)
        if (auto st = push({1, false, -1}); !st.ok()) return st;
        scan_ += hdr;
        break;
      default:  // integers, simple values, floats
        scan_ += hdr;
        ItemDone();
        break;
    }
  }
  return true;
}

// One data item ended: count it against the containers it closes.
void StreamDecoder::ItemDone() {
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    if (f.indefinite) return;
    if (--f.remaining > 0) return;
    stack_.pop_back();
  }
  complete_ = true;
}

}  // namespace ipc::ctl
