// The bus key ring while the bus runs: `govesb admin esb-key rotate|activate|discard|
// erase-retired` rewrite keys/esb-keys.json (atomically), or in a cluster its sealed row in
// PostgreSQL; the key watcher reads it again when it changed (a cluster's: every second) and
// gives the signer the time every second, so that a rotation, an activation and a scheduled
// activation take effect within a second, without a restart. A ring that cannot be read is
// logged once and the bus goes on with the keys it has.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <string>

#include "base/thread_name.h"
#include "cluster/membership.h"
#include "server/bus_server_impl.h"
#include "store/key_ring_file.h"

namespace govesb::server {
namespace {

// What changes when the file is replaced (a new inode) or rewritten: "" when it is missing.
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

std::string Short(const std::string& key_id) { return key_id.substr(0, 16); }

// Cluster mode: the ring sealed in PostgreSQL, on the watcher's own connection (opened again
// after a failure).
Result<crypto::KeyRing> ReadClusterKeyRing(BusServer::Impl& s) {
  if (s.key_db == nullptr) {
    GOVESB_ASSIGN_OR_RETURN(s.key_db, s.open_database());
  }
  Result<crypto::KeyRing> ring = cluster::LoadKeyRing(*s.key_db, s.cluster_kek);
  if (!ring.ok()) s.key_db.reset();
  return ring;
}

}  // namespace

void CheckKeyRing(BusServer::Impl& s, bool force) {
  std::lock_guard lock(s.key_mutex);
  const int64_t now = s.clock->NowMillis();
  const std::string before = crypto::KeyId(s.signer->public_key());
  bool changed = false;
  std::string why = "its scheduled activation";
  const std::string stamp = s.data_dir ? FileStamp(s.data_dir->key_ring_path()) : "";
  const bool on_cluster = !s.cluster_kek.empty();
  if (on_cluster || (s.data_dir && (force || stamp != s.key_ring_stamp))) {
    Result<crypto::KeyRing> ring = on_cluster ? ReadClusterKeyRing(s) : s.data_dir->ReadKeyRing();
    // A cluster's ring is read every second: only a different one is news.
    const bool same = on_cluster && ring.ok() &&
                      store::KeyRingText(*ring) == store::KeyRingText(*s.signer->ring());
    if (same) {
      if (s.key_ring_failing) spdlog::info("bus keys: the key ring is readable again");
      s.key_ring_failing = false;
      changed = s.signer->Refresh(now);
    } else if (!ring.ok()) {
      if (!s.key_ring_failing) {
        spdlog::error(
            "bus keys: the key ring was not read again ({}); the bus goes on signing "
            "with key {}",
            ring.status().message(), Short(before));
      }
      s.key_ring_failing = true;
      changed = s.signer->Refresh(now);
    } else {
      if (s.key_ring_failing) spdlog::info("bus keys: the key ring is readable again");
      s.key_ring_failing = false;
      s.key_ring_stamp = stamp;
      changed = s.signer->Update(std::move(ring).value(), now);
      why = "the key ring changed";
    }
  } else {
    changed = s.signer->Refresh(now);
  }
  if (changed) {
    const crypto::PublicKey key = s.signer->public_key();
    spdlog::info("bus keys: signing with key {} ({}) from now on, was {} ({})",
                 Short(crypto::KeyId(key)), crypto::CurveName(key.curve()), Short(before), why);
  }
}

void StartKeyWatcher(BusServer::Impl& s) {
  s.key_watcher = std::thread([&s] {
    NameThisThread("govesb-keys");
    std::unique_lock lock(s.checkpoint_mutex);
    while (!s.checkpoint_wake.wait_for(lock, std::chrono::seconds(1),
                                       [&] { return s.checkpoint_stop; })) {
      lock.unlock();
      CheckKeyRing(s, false);
      lock.lock();
    }
  });
}

}  // namespace govesb::server
