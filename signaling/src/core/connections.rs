//! Connections: streams opening and closing, grace periods, the devices a user has online.

use crate::error::Error;
use crate::event::Event;
use crate::ids::Millis;
use crate::log::Audience;
use crate::output::{Output, Timer, deliver};

use super::{Conn, Connected, Core};

impl Core {
    /// A stream opens for `user`. `want` is the connection id the device had; it is
    /// given back when it belongs to `user` and its grace period has not run out.
    /// `fresh` is true when nothing was replayed to this stream (no last event id, or
    /// a reset): then offers still ringing for `user` are delivered to it.
    pub fn connect(
        &mut self,
        now: Millis,
        user: &str,
        want: Option<&str>,
        fresh: bool,
    ) -> (Connected, Vec<Output>) {
        let reusable = want.and_then(|c| {
            let conn = self.conns.get_mut(c).filter(|conn| conn.user == user)?;
            conn.streams += 1;
            conn.generation += 1;
            conn.idle_since = 0;
            Some(c)
        });
        let mut out = Vec::new();
        let (conn_id, reused) = match reusable {
            Some(c) => (c.to_owned(), true),
            None => {
                self.make_room_for_conn(now, user, &mut out);
                if !self.has_connections(user) {
                    out.push(Output::Presence {
                        user: user.to_owned(),
                        online: true,
                    });
                }
                let id = self.ids.next_id();
                self.conns.insert(
                    id.clone(),
                    Conn {
                        user: user.to_owned(),
                        streams: 1,
                        generation: 0,
                        idle_since: 0,
                    },
                );
                self.conns_by_user
                    .entry(user.to_owned())
                    .or_default()
                    .push(id.clone());
                (id, false)
            }
        };
        if fresh {
            out.extend(self.pending_offers(user, &conn_id));
        }
        tracing::debug!(user, conn = %conn_id, reused, "stream connected");
        (Connected { conn_id, reused }, out)
    }

    /// Keeps `user` under [`CoreConfig::max_conn_ids_per_user`](super::CoreConfig): when
    /// a new id would pass it, the longest-idle id without a stream is dropped as if its
    /// grace had run out (its calls end with `connection_lost`).
    fn make_room_for_conn(&mut self, now: Millis, user: &str, out: &mut Vec<Output>) {
        let Some(ids) = self.conns_by_user.get(user) else {
            return;
        };
        if ids.len() < self.cfg.max_conn_ids_per_user.max(1) {
            return;
        }
        let idle = ids.iter().filter_map(|id| {
            let c = self.conns.get(id).filter(|c| c.streams == 0)?;
            Some((c.idle_since, id.clone()))
        });
        if let Some((_, oldest)) = idle.min() {
            tracing::info!(user, conn = %oldest, "too many connection ids: dropping the longest idle");
            self.drop_conn(now, &oldest, out);
        }
    }

    /// Offers still ringing for `user`, delivered to connection `conn` alone: for a
    /// stream that had nothing replayed (a new device, or after a reset).
    pub fn pending_offers(&self, user: &str, conn: &str) -> Vec<Output> {
        self.ringing_to
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.calls.get(id)?.offer.as_ref())
            .map(|offer| {
                deliver(
                    user,
                    Audience::Only(conn.to_owned()),
                    Event::CallOffer(offer.clone()),
                )
            })
            .collect()
    }

    /// A stream of connection `conn` closed. When it was the last one, the grace
    /// period starts.
    pub fn disconnect(&mut self, now: Millis, conn_id: &str) -> Vec<Output> {
        let Some(conn) = self.conns.get_mut(conn_id) else {
            return Vec::new();
        };
        conn.streams = conn.streams.saturating_sub(1);
        if conn.streams > 0 {
            return Vec::new();
        }
        conn.generation += 1;
        conn.idle_since = now;
        vec![Output::Timer {
            at: now + self.cfg.conn_grace_ms,
            timer: Timer::ConnGrace {
                user: conn.user.clone(),
                conn: conn_id.to_owned(),
                generation: conn.generation,
            },
        }]
    }

    /// 403 `forbidden` unless `conn` is a connection of `user`.
    pub fn check_conn(&self, user: &str, conn: &str) -> Result<(), Error> {
        match self.conns.get(conn) {
            Some(c) if c.user == user => Ok(()),
            Some(_) => Err(Error::Forbidden("that connection belongs to another user")),
            None => Err(Error::Forbidden("unknown connection")),
        }
    }

    /// How many connection ids `user` has (open, or in their grace period): the
    /// `devices` of a presence query.
    pub fn connections_of(&self, user: &str) -> usize {
        self.conns_by_user.get(user).map_or(0, |s| s.len())
    }

    /// How many of `user`'s connections have an open stream.
    pub fn online_devices(&self, user: &str) -> usize {
        self.conns_by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter(|c| self.conns.get(*c).is_some_and(|c| c.streams > 0))
            .count()
    }

    /// Whether `user` has a connection id (open or in its grace period).
    pub fn has_connections(&self, user: &str) -> bool {
        self.conns_by_user.contains_key(user)
    }

    /// Known connection ids (open or in their grace period).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}
