#include "plugins/static/hold_frontend.h"

#include <algorithm>

#include "proxygw-engine/config/duration.h"
#include "proxygw-netd/validate.h"

namespace plugins::static_ns {
namespace {

using common::Status;
using ipc::netd::Hold;
using ipc::netd::Prefix;

// "198.18.1.0/24", "2001:db8::/32", or a bare address (one host). A message
// naming what is wrong, or the prefix.
common::Result<Prefix> ParsePrefix(const std::string& text) {
  auto slash = text.find('/');
  auto addr = common::IpAddress::Parse(text.substr(0, slash));
  if (!addr.ok()) return addr.status();
  std::size_t bits = addr->size() * 8;
  std::size_t length = bits;
  if (slash != std::string::npos) {
    std::string len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit) ||
        std::stoul(len) > bits) {
      return Status::InvalidArgument("expected a prefix length 0-" + std::to_string(bits) +
                                     " after \"/\", got \"" + len + "\"");
    }
    length = std::stoul(len);
  }
  Prefix p{*addr, static_cast<std::uint8_t>(length)};
  for (std::size_t bit = length; bit < bits; ++bit) {
    if (addr->data()[bit / 8] & (0x80 >> (bit % 8))) {
      return Status::InvalidArgument("\"" + text + "\" has bits set past its length /" +
                                     std::to_string(length) + " (write the network address)");
    }
  }
  return p;
}

struct HoldOptions {
  std::vector<Prefix> allow;  // empty: anyone
  std::uint32_t hold_s = 0;
};

class HoldFrontend : public engine::FrontendHandler {
 public:
  HoldFrontend(const engine::FrontendContext& ctx, HoldOptions options)
      : name_(ctx.config.name),
        log_(ctx.log),
        knock_(ctx.knock),
        dp_(ctx.dataplane),
        keys_(ctx.keys) {
    for (const auto& key : keys_) {
      Hold h{key, options.hold_s, {}};
      for (const auto& p : options.allow) {
        if (p.address.family() == key.listen.family()) h.allow.push_back(p);
      }
      // Prefixes of the other family only: this family's clients may not wake it.
      if (!options.allow.empty() && h.allow.empty()) continue;
      holds_.push_back(std::move(h));
    }
  }

  void Start(engine::Done done) override {
    if (dp_ != nullptr) {
      if (Status st = dp_->SetHolds(name_, holds_); !st.ok()) return done(st);
    }
    running_ = true;
    for (const auto& h : holds_) {
      std::string allow;
      for (const auto& p : h.allow) allow += (allow.empty() ? "" : ",") + p.ToString();
      log_.Info("holding first packets while the target is cold",
                {{"key", h.key.ToString()},
                 {"hold", config::FormatSeconds(h.hold_s)},
                 {"allow", allow.empty() ? "any" : allow}});
    }
    done(Status::Ok());
  }

  void Stop(engine::Done done) override {
    if (dp_ != nullptr) {
      if (Status st = dp_->SetHolds(name_, {}); !st.ok()) return done(st);
    }
    running_ = false;
    done(Status::Ok());
  }

  // Holds stay in netd: an engine restart restates them (and the engine that
  // follows learns of what is held at its sync); a shutdown removes the table.
  void Close() override { running_ = false; }

  bool OnKnock(const ipc::netd::KnockPush& k) override {
    if (!running_) return false;
    ++knocks_;
    if (knock_) knock_();  // proxygw_frontend_knocks_total
    last_source_ = k.source.ToString();
    if (waking_) {
      log_.Debug("knock; warm under way",
                 {{"key", k.key.ToString()}, {"source", last_source_}, {"held", std::to_string(k.held)}});
      return true;
    }
    waking_ = true;
    log_.Info("knock: a client is held; warming the target",
              {{"key", k.key.ToString()}, {"source", last_source_}, {"held", std::to_string(k.held)}});
    return true;
  }

  void OnTargetActive() override {
    if (!waking_) return;
    waking_ = false;
    log_.Info("target active; held clients released into forwarding");
  }

  void OnTargetFailed() override {
    if (!running_ || dp_ == nullptr) return;
    waking_ = false;
    std::vector<ipc::netd::MappingKey> keys;
    for (const auto& h : holds_) keys.push_back(h.key);
    dp_->Release(keys);
    log_.Info("target failed; held clients refused");
  }

  std::optional<Knocks> KnockStats() const override { return Knocks{knocks_, last_source_}; }

 private:
  std::string name_;
  engine::Logger log_;
  std::function<void()> knock_;
  engine::Dataplane* dp_;
  std::vector<ipc::netd::MappingKey> keys_;
  std::vector<Hold> holds_;
  bool running_ = false;
  bool waking_ = false;  // knocked, and the target is not active (nor failed) since
  std::uint64_t knocks_ = 0;
  std::string last_source_;
};

std::optional<std::vector<Prefix>> ReadAllow(config::ErrorSink& errors, const config::Fields& f) {
  YAML::Node node = f.Get("allow");
  std::string path = f.PathOf("allow");
  if (!node.IsSequence()) {
    errors.Add(config::LocationOf(node), path,
               "expected a list of source prefixes, got " + config::DescribeNode(node));
    return std::nullopt;
  }
  std::vector<Prefix> out;
  std::size_t before = errors.count();
  for (std::size_t i = 0; i < node.size(); ++i) {
    std::string ip = config::Index(path, i);
    auto text = config::ReadString(errors, node[i], ip, config::LocationOf(node));
    if (!text) continue;
    auto p = ParsePrefix(*text);
    if (!p.ok()) {
      errors.Add(config::LocationOf(node[i]), ip, p.status().message());
      continue;
    }
    // netd's rules (per family: at most kMaxAllowPrefixes, none overlapping).
    std::size_t same = 0;
    Hold probe{{ipc::netd::Proto::kTcp, common::IpAddress::Unspecified(p->address.family()), 1},
               1,
               {}};
    for (const auto& q : out) {
      if (q.address.family() == p->address.family()) {
        ++same;
        probe.allow.push_back(q);
      }
    }
    probe.allow.push_back(*p);
    if (same >= ipc::netd::kMaxAllowPrefixes) {
      errors.Add(config::LocationOf(node[i]), ip,
                 "at most " + std::to_string(ipc::netd::kMaxAllowPrefixes) + " " +
                     std::string(common::FamilyName(p->address.family())) + " prefixes");
      continue;
    }
    if (!netd::ValidateHold(probe, false).ok()) {
      errors.Add(config::LocationOf(node[i]), ip,
                 "\"" + *text + "\" overlaps another prefix of the list");
      continue;
    }
    out.push_back(*p);
  }
  if (errors.count() != before) return std::nullopt;
  return out;
}

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewHoldFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, o.node, o.path, o.location, {"allow", "hold"},
                                /*null_is_empty=*/true);
  if (!f) return nullptr;
  HoldOptions options;
  std::uint32_t ready = ctx.target != nullptr ? ctx.target->ready_timeout_s : 0;
  options.hold_s = std::clamp<std::uint32_t>(ready, 1, ipc::netd::kMaxHoldSeconds);
  if (f->Has("allow")) {
    if (auto allow = ReadAllow(errors, *f)) options.allow = std::move(*allow);
  }
  if (auto text = f->String(errors, "hold", /*required=*/false)) {
    auto d = config::ParseGoDuration(*text);
    auto at = config::LocationOf(f->Get("hold"));
    constexpr std::int64_t kSecond = 1'000'000'000;
    if (!d.ok()) {
      errors.Add(at, f->PathOf("hold"), d.status().message());
    } else if (d->count() < kSecond || d->count() % kSecond != 0 ||
               d->count() / kSecond > ipc::netd::kMaxHoldSeconds) {
      errors.Add(at, f->PathOf("hold"), "must be whole seconds from 1s to 5m, got \"" + *text + "\"");
    } else {
      options.hold_s = static_cast<std::uint32_t>(d->count() / kSecond);
    }
  }
  if (errors.count() != before) return nullptr;
  return std::make_unique<HoldFrontend>(ctx, std::move(options));
}

}  // namespace plugins::static_ns
