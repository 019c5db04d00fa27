// The ctl protocol's framing (ctl_protocol.h): a byte stream of the
// connection, split into packets in either codec, bounded in size and depth.
// The engine's ctl connections and proxygwctl read with it. Library code: no
// logging, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc/ctl_protocol.h"
#include "common/status.h"

namespace ipc::ctl {

// Splits a byte stream into packets, on any boundaries the bytes arrive in.
// Bytes are buffered only up to the end of the next packet: at most
// `max_packet_bytes` of a packet, plus what one Feed brings beyond it.
//
// Errors (Next() returning a non-ok status, code ProtocolError) mean the
// stream cannot be read further and the connection should be dropped: bytes
// that are not the codec's syntax, a packet over `max_packet_bytes` or
// nested deeper than kMaxDepth, a packet that is not a map, an "id" that is
// missing or not a uint32. After one, Next() returns the same error forever.
class StreamDecoder {
 public:
  StreamDecoder(Codec codec, std::size_t max_packet_bytes);

  // Appends bytes that arrived. Call Next() until it returns nullopt before
  // feeding more, so that the buffer stays bounded.
  void Feed(std::string_view bytes);
  // The next complete packet; nullopt when more bytes are needed.
  common::Result<std::optional<Packet>> Next();
  // True when no part of a packet is buffered (only whitespace, for JSON):
  // an end of stream here is clean.
  bool Idle() const;

 private:
  // Advances the scan of the packet starting at start_; true when complete.
  common::Result<bool> ScanJson();
  common::Result<bool> ScanCbor();
  void ItemDone();
  void Compact();

  struct Frame {
    std::uint64_t remaining;  // items still to come; unused when indefinite
    bool indefinite;
    int string_major;  // >= 0: an indefinite string of this major type
  };

  Codec codec_;
  std::size_t max_;
  std::string buf_;
  std::size_t start_ = 0;  // where the current packet starts in buf_
  std::size_t scan_ = 0;   // bytes of it scanned so far
  bool started_ = false;   // its first byte was seen
  bool complete_ = false;
  // JSON scan state.
  std::size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  // CBOR scan state.
  std::vector<Frame> stack_;
  common::Status failed_;
};

}  // namespace ipc::ctl
