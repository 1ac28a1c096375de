// The demo's chat side (PROTOCOL §4 and §9): the conversation list with unread badges
// and presence dots, the open conversation with times, read ticks and typing, and the
// call history with missed calls.

const $ = (id) => document.getElementById(id);
const show = (id, on) => { $(id).hidden = !on; };
const hhmm = (secs) => new Date(secs * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const when = (secs) => {
  const d = new Date(secs * 1000);
  return d.toDateString() === new Date().toDateString() ? hhmm(secs) : `${d.toLocaleDateString()} ${hhmm(secs)}`;
};
const OUTCOME = { ended: 'answered', declined: 'declined', canceled: 'canceled', missed: 'missed' };

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'data') Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children.filter((c) => c != null));
  return e;
}

export class Chats {
  /**
   * @param {import('./pqcall.js').PqcallClient} client
   * @param {{call: (peer: string) => Promise<void>, guarded: Function, busy: () => boolean}} app
   */
  constructor(client, app) {
    this.client = client;
    this.app = app;
    this.convs = new Map(); // id -> the list's summary, with `rank` for the order
    this.presence = new Map(); // user -> online
    this.openId = null;
    this.seen = new Set();
    this.readBy = new Map(); // conversation -> Map(user -> newest message id read)
    this.clock = 0;
    this.typingTimers = new Map();
    this.lastTyping = 0;
    this.history = [];
    this.listen();
  }

  get me() { return this.client.userId; }
  title(c) { return c.title || c.members.filter((m) => m !== this.me).join(', ') || 'just you'; }
  others(c) { return c.members.filter((m) => m !== this.me); }
  peerOf(c) { const o = this.others(c); return o.length === 1 ? o[0] : null; }
  online(u) { return this.presence.get(u) === true; }

  /** Reloads the list, presence and history (at start and whenever the stream reopens). */
  async refresh() {
    const { conversations } = await this.client.listConversations({ limit: 100 });
    const old = this.convs;
    this.convs = new Map(conversations.map((c, i) => [c.conversation_id, { ...c, rank: old.get(c.conversation_id)?.rank ?? -i }]));
    await this.refreshPresence();
    this.renderList();
    if (this.openId && this.convs.has(this.openId)) this.renderHead();
    await this.refreshHistory();
  }

  async refreshPresence() {
    const users = [...new Set([...this.convs.values()].flatMap((c) => this.others(c)))].slice(0, 100);
    if (!users.length) return;
    const { presence } = await this.client.presence(users);
    for (const [u, p] of Object.entries(presence)) this.presence.set(u, p.online);
  }

  renderList() {
    const items = [...this.convs.values()].sort((a, b) => b.rank - a.rank).map((c) => {
      const peer = this.peerOf(c);
      const on = peer ? this.online(peer) : this.others(c).some((u) => this.online(u));
      const last = c.last_message;
      const b = el('button', { type: 'button', className: 'item', data: { testid: 'conv', id: c.conversation_id }, 'aria-current': String(c.conversation_id === this.openId) },
        el('span', { className: 'dot', data: { online: String(on), testid: 'presence' }, title: on ? 'online' : 'offline' }),
        el('span', { className: 'name', textContent: this.title(c) }),
        c.unread > 0 ? el('span', { className: 'badge', data: { testid: 'unread' }, textContent: c.unread > 99 ? '99+' : String(c.unread) }) : el('span'),
        el('span', { className: 'preview', textContent: last ? `${last.from === this.me ? 'you' : last.from}: ${last.body}` : 'no messages yet' }));
      b.addEventListener('click', this.app.guarded('Could not open the conversation', () => this.open(c.conversation_id)));
      return el('li', {}, b);
    });
    $('conv-list').replaceChildren(...items);
    show('no-convs', items.length === 0);
    // Someone with no conversation yet sees how to start one.
    if (items.length === 0) $('new-chat').open = true;
  }

  renderHead() {
    const c = this.convs.get(this.openId);
    if (!c) return;
    $('chat-title').textContent = this.title(c);
    $('chat-members').replaceChildren(...c.members.map((m) => el('span', { data: { testid: 'member', user: m, online: String(m === this.me || this.online(m)) } },
      el('span', { className: 'dot', data: { online: String(m === this.me || this.online(m)) } }), m === this.me ? `${m} (you)` : m)));
    const peer = this.peerOf(c);
    const btn = $('call-peer-btn');
    btn.textContent = peer ? `Call ${peer}` : 'Call';
    const busy = this.app.busy();
    btn.disabled = !peer || !this.online(peer) || busy;
    $('call-hint').textContent = !peer ? 'calls are one to one: call a member by name below'
      : busy ? 'you are in a call'
        : this.online(peer) ? '' : `${peer} is offline`;
  }

  /** Opens conversation `id`: its newest messages, read up to the newest. */
  async open(id) {
    if (!this.convs.has(id)) await this.refresh();
    this.openId = id;
    this.seen.clear();
    $('messages').replaceChildren();
    $('conv-id').textContent = id;
    $('typing').textContent = '';
    show('chat', true);
    show('pick', false);
    $('app').dataset.view = 'pane';
    this.renderHead();
    const { messages } = await this.client.loadMessages(id, { limit: 50 });
    messages.forEach((m) => this.add(m));
    await this.markRead();
    this.renderList();
  }

  add(m) {
    if (m.conversation_id !== this.openId || this.seen.has(m.id)) return;
    this.seen.add(m.id);
    const mine = m.from === this.me;
    const at = new Date(m.created_at * 1000);
    const li = el('li', { className: mine ? 'mine' : '', data: { testid: 'message', id: m.id } },
      el('b', { textContent: m.from }),
      el('span', { className: 'body', textContent: m.body }),
      el('span', { className: 'meta' },
        el('time', { dateTime: at.toISOString(), textContent: hhmm(m.created_at) }),
        mine ? el('span', { className: 'ticks', data: { testid: 'ticks', read: 'false' }, title: 'sent', textContent: '✓' }) : null));
    $('messages').append(li);
    $('messages').scrollTop = 1e9;
    if (mine) this.renderTicks();
  }

  /** Own messages get ✓✓ once another member's read marker reached them. */
  renderTicks() {
    const marks = [...(this.readBy.get(this.openId)?.values() ?? [])];
    for (const li of $('messages').querySelectorAll('li.mine')) {
      const read = marks.some((id) => id >= li.dataset.id);
      const t = li.querySelector('.ticks');
      t.dataset.read = String(read);
      t.textContent = read ? '✓✓' : '✓';
      t.title = read ? 'read' : 'sent';
    }
  }

  /** Marks the open conversation read up to its newest message from someone else. */
  async markRead() {
    const c = this.convs.get(this.openId);
    if (!c || document.hidden) return;
    const theirs = [...$('messages').querySelectorAll('li:not(.mine)')].at(-1);
    c.unread = 0;
    if (theirs) await this.client.markRead(this.openId, theirs.dataset.id);
  }

  /** Moves a conversation to the top with `message` as its newest. */
  touch(id, message) {
    const c = this.convs.get(id);
    if (!c) return;
    c.rank = ++this.clock;
    if (message) c.last_message = message;
  }

  async send(body) {
    const id = this.openId;
    this.client.typing(id, false).catch(() => {});
    const { message } = await this.client.send(id, body);
    this.touch(id, message);
    this.add(message);
    this.renderList();
  }

  typed() {
    if (!this.openId || Date.now() - this.lastTyping < 2000) return;
    this.lastTyping = Date.now();
    this.client.typing(this.openId, true).catch(() => {});
  }

  async refreshHistory() {
    const { calls } = await this.client.callHistory({ limit: 50 });
    this.history = calls;
    this.renderHistory();
  }

  renderHistory() {
    const seen = Number(sessionStorage.getItem(`pqcall-calls-seen-${this.me}`) ?? 0);
    const unseen = this.history.filter((c) => c.outcome === 'missed' && c.direction === 'incoming' && c.ended_at > seen).length;
    $('missed-badge').textContent = String(unseen);
    show('missed-badge', unseen > 0);
    // Newest call first, by when it started (the server lists them as they finished).
    const calls = [...this.history].sort((a, b) => b.started_at - a.started_at);
    const items = calls.map((c) => {
      const back = el('button', { type: 'button', data: { testid: 'call-back' }, textContent: 'Call' });
      back.addEventListener('click', this.app.guarded('Call failed', () => this.app.call(c.peer)));
      const what = c.direction === 'incoming' && c.outcome === 'missed' ? 'missed call'
        : `${c.direction === 'outgoing' ? 'outgoing' : 'incoming'} · ${OUTCOME[c.outcome] ?? c.outcome}`;
      const long = c.answered_at ? ` · ${Math.max(0, c.ended_at - c.answered_at)} s` : '';
      return el('li', { data: { testid: 'history-call', outcome: c.outcome, direction: c.direction } },
        el('span', { textContent: c.direction === 'outgoing' ? '↗' : '↙', title: c.direction }),
        el('span', { className: 'name', textContent: c.peer }),
        back,
        el('span', { className: 'when', textContent: `${what}${long} · ${when(c.started_at)}` }));
    });
    $('history').replaceChildren(...items);
    show('no-calls', items.length === 0);
  }

  /** Shows the chats or the calls tab. */
  tab(calls) {
    $('app').dataset.view = 'list';
    $('tab-chats').setAttribute('aria-selected', String(!calls));
    $('tab-calls').setAttribute('aria-selected', String(calls));
    show('chats-view', !calls);
    show('calls-view', calls);
    if (calls) {
      sessionStorage.setItem(`pqcall-calls-seen-${this.me}`, String(Math.floor(Date.now() / 1000)));
      this.renderHistory();
    }
  }

  listen() {
    const on = (name, fn) => this.client.addEventListener(name, (e) => fn(e.detail));
    on('conversation.created', async (d) => {
      await this.refresh();
      this.touch(d.conversation_id);
      this.renderList();
      if (!this.openId) await this.open(d.conversation_id);
    });
    on('conversation.member_joined', (d) => this.refresh().then(() => this.touch(d.conversation_id)));
    on('message.new', async ({ conversation_id: id, message }) => {
      // A conversation not listed yet comes with the server's count, this message in it.
      const known = this.convs.has(id);
      if (!known) await this.refresh();
      this.touch(id, message);
      const c = this.convs.get(id);
      if (id === this.openId) {
        this.add(message);
        if (message.from !== this.me) await this.markRead().catch(() => {});
      } else if (c && known && message.from !== this.me) c.unread += 1;
      this.renderList();
    });
    on('message.read', ({ conversation_id: id, user_id: u, message_id: m }) => {
      const marks = this.readBy.get(id) ?? new Map();
      if ((marks.get(u) ?? '') < m) marks.set(u, m);
      this.readBy.set(id, marks);
      if (id === this.openId) this.renderTicks();
    });
    on('presence.changed', ({ user_id: u, online }) => {
      this.presence.set(u, online);
      this.renderList();
      this.renderHead();
    });
    on('typing', ({ conversation_id: c, user_id: u, active }) => {
      if (c !== this.openId) return;
      clearTimeout(this.typingTimers.get(u));
      $('typing').textContent = active ? `${u} is typing…` : '';
      if (active) this.typingTimers.set(u, setTimeout(() => { $('typing').textContent = ''; }, 6000));
    });
    on('call.missed', () => this.refreshHistory().catch(() => {}));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.markRead().then(() => this.renderList()).catch(() => {});
    });
  }
}
