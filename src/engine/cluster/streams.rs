//! Open streams in a cluster: the per-user cap as slots in Redis, and a lease per
//! stream, written and removed by the same commits that count the stream open and
//! closed in the core, so that a stream is closed exactly once, by its node or, when its
//! node is gone, by whichever node claims its expired lease.

use pqcall_signaling::{Core, Error, Scope};

use super::log::{costs_key, unavailable};
use super::records::{Cluster, LeaseChange, committed, due_members};
use crate::clock::now_ms;
use crate::hub::Hub;

/// One open stream of this node: its user, its connection id and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OpenStream {
    pub user: String,
    pub conn: String,
    pub stream_no: u64,
}

/// Every stream open on this node.
pub(super) fn open_streams(hub: &Hub) -> Vec<OpenStream> {
    let each = |(user, conn, stream_no)| OpenStream {
        user,
        conn,
        stream_no,
    };
    hub.streams().into_iter().map(each).collect()
}

impl Cluster {
    /// Takes one of the user's stream slots, or says the cap is reached.
    pub async fn take_stream_slot(
        &self,
        user: &str,
        stream_no: u64,
        cap: usize,
    ) -> Result<bool, Error> {
        let mut con = self.con.clone();
        let r: i64 = self
            .lease
            .key(format!("{}:st:{user}", self.prefix))
            .arg(cap)
            .arg(format!("{}:{stream_no}", self.node))
            .arg(self.lease_ms)
            .invoke_async(&mut con)
            .await
            .map_err(unavailable)?;
        Ok(r == 1)
    }

    /// Gives a stream's slot back.
    pub async fn release_stream_slot(&self, user: &str, stream_no: u64) {
        let mut con = self.con.clone();
        let r = redis::cmd("ZREM")
            .arg(format!("{}:st:{user}", self.prefix))
            .arg(format!("{}:{stream_no}", self.node))
            .query_async::<i64>(&mut con)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "releasing a stream slot (it expires by itself)");
        }
    }

    /// Opens a stream of `user` in the core (`Core::connect`, reusing `want` if it is
    /// still known) and, in the same commit, its lease, which this node renews.
    /// Returns the stream's connection id.
    pub async fn open_stream(
        &self,
        now: u64,
        user: &str,
        want: Option<&str>,
        stream_no: u64,
    ) -> Result<String, Error> {
        // Connecting may drop the user's longest-idle connection id (and end its calls):
        // those outputs commit with it.
        let connect = |core: &mut Core| {
            let (connected, out) = core.connect(now, user, want, false);
            Ok((connected.conn_id, out))
        };
        let hold = |conn: &String| LeaseChange::Hold(self.stream_member(user, conn, stream_no));
        let done = self.transact_with(Scope::users([user]), None, None, connect, hold);
        committed(done.await?)
    }

    /// Counts a stream of this node closed in the core, unless another node already
    /// did (after its lease expired). On error the lease stays and expires, and then
    /// some node closes the stream.
    pub async fn close_stream(
        &self,
        user: &str,
        conn: &str,
        stream_no: u64,
    ) -> Result<bool, Error> {
        self.close_leased(self.stream_member(user, conn, stream_no), user, conn)
            .await
    }

    /// `Core::disconnect` of `conn`, committed only with the removal of its lease
    /// `member`: true when this call removed it.
    async fn close_leased(&self, member: String, user: &str, conn: &str) -> Result<bool, Error> {
        let disconnect = |core: &mut Core| Ok(((), core.disconnect(now_ms(), conn)));
        let claim = |_: &()| LeaseChange::Claim(member.clone());
        let done = self
            .transact_with(Scope::users([user]), None, None, disconnect, claim)
            .await?;
        Ok(done.is_some())
    }

    /// Renews the slots and leases of this node's open streams, and keeps their users'
    /// logs (an idle log of a connected user must not expire: appends need it). A lease
    /// another node already took over (this node was cut off too long) is not brought
    /// back.
    pub(super) async fn renew_streams(&self, streams: Vec<OpenStream>) -> Result<(), Error> {
        if streams.is_empty() {
            return Ok(());
        }
        let at = now_ms() + self.lease_ms;
        let mut pipe = redis::pipe();
        for s in streams {
            let key = format!("{}:st:{}", self.prefix, s.user);
            pipe.cmd("ZADD")
                .arg(&key)
                .arg(at)
                .arg(format!("{}:{}", self.node, s.stream_no))
                .ignore();
            pipe.cmd("PEXPIRE").arg(&key).arg(self.lease_ms).ignore();
            // The log's state, its stream and the list beside it always get their time
            // to live together.
            let (meta, log) = self.log.keys(&s.user);
            let costs = costs_key(&log);
            for key in [meta, log, costs] {
                pipe.cmd("EXPIRE")
                    .arg(key)
                    .arg(self.log.ttl_secs())
                    .ignore();
            }
            pipe.cmd("ZADD")
                .arg(self.streams_key())
                .arg("XX")
                .arg(at)
                .arg(self.stream_member(&s.user, &s.conn, s.stream_no))
                .ignore();
        }
        let mut con = self.con.clone();
        pipe.query_async::<()>(&mut con).await.map_err(unavailable)
    }

    /// Closes, in the core, streams whose lease expired (their node died, lost Redis,
    /// or could not close them): each by a commit that also removes its lease, so one
    /// node closes it, once. Returns how many it closed.
    pub(super) async fn reap_streams(&self, now: u64) -> Result<usize, Error> {
        let mut con = self.con.clone();
        let expired: Vec<String> = due_members(self.streams_key(), now)
            .query_async(&mut con)
            .await
            .map_err(unavailable)?;
        let mut closed = 0;
        for member in expired {
            let Ok((user, conn, _, _)) =
                serde_json::from_str::<(String, String, String, u64)>(&member)
            else {
                tracing::warn!("dropping an unreadable stream lease");
                redis::cmd("ZREM")
                    .arg(self.streams_key())
                    .arg(&member)
                    .query_async::<i64>(&mut con)
                    .await
                    .map_err(unavailable)?;
                continue;
            };
            // On error the lease stays due, for the next round on any node.
            if self.close_leased(member, &user, &conn).await? {
                closed += 1;
            }
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pqcall_signaling::{Audience, CoreConfig, LogConfig};

    use super::super::log::RedisLog;
    use super::*;
    use crate::event_log::EventLog;

    /// The renewal of a node's open streams keeps their users' logs whole: the state, the
    /// stream and the list beside it get their time to live back together, so a user who
    /// stays connected with no events for longer than it keeps all three.
    #[tokio::test]
    async fn renewing_a_stream_renews_all_three_keys_of_its_users_log() {
        let _turn = super::super::REDIS_TURN.read().await;
        let (_, nanos) = super::super::test_redis();
        let prefix = format!("pqcall-unit-{nanos}");
        let url = super::super::test_redis_url();
        let Ok(log) = RedisLog::connect(&url, &prefix, LogConfig::default()).await else {
            eprintln!("SKIPPED: Redis does not answer");
            return;
        };
        log.newest("u").await.unwrap();
        let appended = log.append("u", Audience::All, "e", "{}", now_ms()).await;
        appended.unwrap().expect("a log");
        let (meta, events) = log.keys("u");
        let keys = [meta, events.clone(), costs_key(&events)];
        let mut con = log.connection();
        for key in &keys {
            let _: () = redis::cmd("EXPIRE")
                .arg(key)
                .arg(5)
                .query_async(&mut con)
                .await
                .unwrap();
        }
        let ttl_secs = log.ttl_secs();
        let cluster = Cluster::new(Arc::new(log), CoreConfig::default(), 30_000);
        let open = OpenStream {
            user: "u".into(),
            conn: "c".into(),
            stream_no: 1,
        };
        cluster.renew_streams(vec![open]).await.unwrap();
        for key in &keys {
            let ttl: u64 = redis::cmd("TTL")
                .arg(key)
                .query_async(&mut con)
                .await
                .unwrap();
            assert!(ttl > 5 && ttl <= ttl_secs, "{key:?}: {ttl} s");
        }
    }
}
