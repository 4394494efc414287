// Parley web chat: talks to the node's control API (/v1, bearer token) and
// follows its event stream. All user-supplied text goes through textContent.
'use strict';
(function () {
  const TOKEN_KEY = 'parley.token';
  const UNREAD_KEY = 'parley.unread';
  const CURRENT_KEY = 'parley.current';
  const PAGE = 50;
  const STREAM_IDLE_MS = 45000; // the node sends a heartbeat every 15s
  const phone = window.matchMedia('(max-width: 720px)');

  const $ = (id) => document.getElementById(id);
  // ux: hooks into ux.js (unread, delivery, links, times, QR, limits).
  const ux = (name, ...a) => { const h = window.parleyUX && window.parleyUX[name]; return h ? h(...a) : undefined; };

  class AuthError extends Error {}

  const state = {
    token: '',
    self: '',
    selfName: '',
    status: null,
    groups: new Map(), // id -> GroupInfo
    current: null, // open group id
    messages: [], // open group's messages, oldest first
    ids: new Set(),
    hasMore: false,
    loadingOlder: false,
    unread: {},
    connected: false,
    everConnected: false,
    stopped: false,
  };

  // ---- helpers ----------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function colour(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
    return h % 8;
  }

  function shortID(id) {
    return id && id.length > 14 ? id.slice(0, 6) + '…' + id.slice(-6) : id || '';
  }

  function authorName(m) {
    return m.author_name || shortID(m.author);
  }

  function initials(name) {
    const words = String(name).trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return '#';
    const first = Array.from(words[0])[0] || '#';
    const second = words.length > 1 ? Array.from(words[1])[0] || '' : '';
    return first + second;
  }

  function cmpMsg(a, b) {
    if (a.lamport !== b.lamport) return a.lamport - b.lamport;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function fmtTime(d) {
    return d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
  }

  function fmtDay(d) {
    const now = new Date();
    if (sameDay(d, now)) return 'Today';
    const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (sameDay(d, y)) return 'Yesterday';
    const opts = { weekday: 'short', month: 'short', day: 'numeric' };
    if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
    return d.toLocaleDateString([], opts);
  }

  function fmtShort(d) {
    const now = new Date();
    if (sameDay(d, now)) return fmtTime(d);
    if (now - d < 6 * 864e5) return d.toLocaleDateString([], { weekday: 'short' });
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }

  let toastTimer = 0;
  function toast(text, isError) {
    const t = $('toast');
    t.textContent = text;
    t.classList.toggle('error-toast', !!isError);
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 5000 : 2200);
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function debounce(fn, ms) {
    let t = 0;
    return () => { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  // ---- API --------------------------------------------------------------

  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) {
      showLogin('Your node did not accept this login. Run `parley web` for a current link.');
      throw new AuthError('unauthorized');
    }
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty body */ }
    if (!res.ok) throw new Error((data && data.error) || 'the node answered ' + res.status);
    return data;
  }

  const gpath = (id) => '/v1/groups/' + encodeURIComponent(id);

  // ---- login ------------------------------------------------------------

  function tokenFrom(s) {
    const m = /(?:^|[#&?])token=([0-9A-Za-z_-]+)/.exec(s);
    if (m) return m[1];
    s = s.trim();
    return /^[0-9A-Za-z_-]{16,}$/.test(s) ? s : '';
  }

  function showLogin(reason) {
    state.stopped = true;
    localStorage.removeItem(TOKEN_KEY);
    if (reason) $('login-reason').textContent = reason;
    $('app').hidden = true;
    $('login').hidden = false;
    document.title = 'Parley';
  }

  // ---- rendering: groups ------------------------------------------------

  function sortedGroups() {
    const gs = Array.from(state.groups.values());
    const t = (g) => (g.last ? Date.parse(g.last.time) : Date.parse(g.joined) || 0);
    gs.sort((a, b) => t(b) - t(a) || a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1));
    return gs;
  }

  function previewText(g) {
    const m = g.last;
    if (!m) return 'No messages yet';
    if (m.kind === 'join') return (m.text || authorName(m)) + ' joined';
    if (m.kind === 'file') return (m.author === state.self ? 'You' : authorName(m)) + ': 📎 ' + m.text;
    if (m.kind === 'membership') return authorName(m) + ' ' + m.text;
    if (window.ParleyPolls && window.ParleyPolls.preview(m)) return window.ParleyPolls.preview(m);
    if (m.kind !== 'text') return 'Unsupported message';
    const who = m.author === state.self ? 'You' : authorName(m);
    return who + ': ' + m.text.replace(/\s+/g, ' ');
  }

  function renderGroups() {
    const list = $('group-list');
    const items = [];
    for (const g of sortedGroups()) {
      const li = el('li', 'group');
      li.dataset.id = g.id;
      li.tabIndex = 0;
      li.setAttribute('role', 'button');
      if (g.id === state.current) li.setAttribute('aria-current', 'true');
      const n = state.unread[g.id] || 0;
      if (n > 0) li.classList.add('unread');
      ux('group', li, g, n);
      li.append(el('span', 'avatar c' + colour(g.id), initials(g.name)));
      li.append(el('span', 'group-name', (g.kind === 'dm' ? '@ ' : '') + g.name));
      li.append(el('span', 'group-time', g.last ? fmtShort(new Date(g.last.time)) : ''));
      li.append(el('span', 'group-preview', previewText(g)));
      if (n > 0) {
        const b = el('span', 'badge', n > 99 ? '99+' : n);
        b.setAttribute('aria-label', n + ' unread');
        li.append(b);
      } else {
        li.append(el('span'));
      }
      items.push(li);
    }
    list.replaceChildren(...items);
    $('no-groups').hidden = state.groups.size > 0;
    const total = Object.values(state.unread).reduce((a, b) => a + b, 0);
    document.title = total > 0 ? '(' + total + ') Parley' : 'Parley';
  }

  function renderHeader() {
    const g = state.groups.get(state.current);
    if (!g) return;
    $('chat-name').textContent = g.name;
    $('chat-sub').textContent = g.members === 1 ? '1 member' : g.members + ' members';
    ux('header', g);
  }

  function renderConn() {
    const c = $('conn');
    let st, text;
    if (!state.connected) {
      st = state.everConnected ? 'offline' : 'connecting';
      text = state.everConnected ? 'Reconnecting…' : 'Connecting…';
    } else {
      const p = state.status ? state.status.peers : 0;
      st = p > 0 ? 'online' : 'alone';
      text = p === 1 ? '1 peer' : p + ' peers';
    }
    c.dataset.state = st;
    $('conn-text').textContent = text;
  }

  function renderMe() {
    const s = state.status;
    if (!s) return;
    $('me-id').textContent = s.id;
    $('me-id').title = s.id;
  }

  // ---- rendering: messages ----------------------------------------------

  function messageNode(m, prev) {
    const d = new Date(m.time);
    if (m.kind === 'join') {
      const name = m.text || authorName(m);
      return el('li', 'sys', (m.author === state.self ? 'You' : name) + ' joined · ' + fmtTime(d));
    }
    if (m.kind === 'membership') {
      return el('li', 'sys', (m.author === state.self ? 'You' : authorName(m)) + ' ' + m.text + ' · ' + fmtTime(d));
    }
    const self = m.author === state.self;
    const cont = prev && prev.kind !== 'join' && prev.kind !== 'membership' && prev.author === m.author &&
      sameDay(new Date(prev.time), d) && d - new Date(prev.time) < 5 * 60 * 1000;
    const li = el('li', 'msg' + (self ? ' self' : '') + (cont ? ' cont' : ''));
    li.dataset.id = m.id;
    if (m.kind !== 'text' && m.kind !== 'file') li.classList.add('unsupported');
    if (!cont) {
      const head = el('div', 'msg-head');
      if (!self) head.append(el('span', 'msg-author t' + colour(m.author), authorName(m)));
      const t = el('time', 'msg-time', fmtTime(d));
      t.dateTime = m.time;
      t.title = d.toLocaleString();
      head.append(t);
      li.append(head);
    }
    const bubble = m.kind === 'file' && window.parleyFiles ? window.parleyFiles.bubble(m) // files.js
      : el('div', 'bubble', m.kind === 'text' ? m.text : 'This message needs a newer version of Parley.');
    bubble.title = d.toLocaleString();
    if (window.ParleyPolls) window.ParleyPolls.decorate(m, li, bubble);
    li.append(bubble);
    if (window.ParleyRich) window.ParleyRich.decorate(li, m, bubble); // rich.js: replies, reactions, edits, deletes
    ux('message', li, m, bubble, cont);
    return li;
  }

  // renderMessages redraws the open group's messages. mode: 'bottom'
  // (scroll to the newest), 'prepend' (keep the view where it was after
  // older messages were added above) or 'keep' (stick to the bottom if the
  // reader was there).
  function renderMessages(mode) {
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const fromBottom = box.scrollHeight - box.scrollTop;
    const items = [];
    let prev = null;
    for (const m of state.messages) {
      const d = new Date(m.time);
      if (!prev || !sameDay(new Date(prev.time), d)) items.push(el('li', 'day', fmtDay(d)));
      items.push(messageNode(m, prev && sameDay(new Date(prev.time), d) ? prev : null));
      prev = m;
    }
    $('message-list').replaceChildren(...items);
    $('older').textContent = state.hasMore ? '' : state.messages.length ? 'Beginning of the conversation' : 'No messages yet. Say hello!';
    if (mode === 'bottom' || (mode === 'keep' && atBottom)) {
      box.scrollTop = box.scrollHeight;
    } else if (mode === 'prepend') {
      box.scrollTop = box.scrollHeight - fromBottom;
    }
  }

  function addMessages(ms) {
    let added = false;
    for (const m of ms) {
      if (state.ids.has(m.id) || (window.ParleyPolls && window.ParleyPolls.hidden(m))) continue;
      state.ids.add(m.id);
      state.messages.push(m);
      added = true;
    }
    if (added) state.messages.sort(cmpMsg);
    return added;
  }

  async function loadLatest(replace) {
    const id = state.current;
    const ms = await api('GET', gpath(id) + '/messages?limit=' + PAGE);
    if (state.current !== id) return;
    const overlap = ms.some((m) => state.ids.has(m.id));
    if (replace || (!overlap && state.messages.length > 0 && ms.length === PAGE)) {
      // A gap we cannot bridge: start over from the newest page.
      state.messages = [];
      state.ids = new Set();
      state.hasMore = ms.length === PAGE;
    } else if (state.messages.length === 0) {
      state.hasMore = ms.length === PAGE;
    }
    addMessages(ms);
    renderMessages(replace ? 'bottom' : 'keep');
    fillViewport();
  }

  async function loadOlder() {
    if (!state.current || !state.hasMore || state.loadingOlder || state.messages.length === 0) return;
    const id = state.current;
    state.loadingOlder = true;
    $('older').textContent = 'Loading older messages…';
    try {
      const before = state.messages[0].cursor;
      const ms = await api('GET', gpath(id) + '/messages?limit=' + PAGE + '&before=' + encodeURIComponent(before));
      if (state.current !== id) return;
      state.hasMore = ms.length === PAGE;
      addMessages(ms);
      renderMessages('prepend');
    } catch (e) {
      if (!(e instanceof AuthError)) $('older').textContent = 'Could not load older messages: ' + e.message;
    } finally {
      state.loadingOlder = false;
    }
    fillViewport();
  }

  // fillViewport loads older pages until the pane can scroll, so scrolling
  // up is always possible when there is more.
  function fillViewport() {
    const box = $('messages');
    if (state.hasMore && !state.loadingOlder && box.scrollHeight <= box.clientHeight + 10) loadOlder();
  }

  // ---- groups -----------------------------------------------------------

  async function loadGroups() {
    const gs = await api('GET', '/v1/groups');
    state.groups = new Map(gs.map((g) => [g.id, g]));
    ux('groups', gs);
    for (const id of Object.keys(state.unread)) if (!state.groups.has(id)) delete state.unread[id];
    renderGroups();
    renderHeader();
    if (!state.selfName && gs.length > 0) loadSelfName(gs[0].id);
  }

  // The node's status has no display name; a group's member list does.
  async function loadSelfName(groupID) {
    try {
      const ms = await api('GET', gpath(groupID) + '/members');
      const me = ms.find((m) => m.self);
      if (me && me.name) {
        state.selfName = me.name;
        $('me-name').textContent = me.name;
      }
    } catch (_) { /* shown elsewhere */ }
  }
  const refreshGroups = debounce(() => loadGroups().catch(() => {}), 250);

  async function loadStatus() {
    state.status = await api('GET', '/v1/status');
    state.self = state.status.id;
    renderMe();
    renderConn();
  }
  const refreshStatus = debounce(() => loadStatus().catch(() => {}), 250);

  function saveUnread() {
    try { sessionStorage.setItem(UNREAD_KEY, JSON.stringify(state.unread)); } catch (_) { /* full */ }
  }

  async function openGroup(id) {
    if (!state.groups.has(id)) return;
    const switching = state.current !== id;
    state.current = id;
    sessionStorage.setItem(CURRENT_KEY, id);
    delete state.unread[id];
    saveUnread();
    ux('open', id);
    $('app').classList.add('show-chat');
    $('chat-empty').hidden = true;
    $('chat-head').hidden = false;
    $('messages').hidden = false;
    $('composer').hidden = false;
    renderHeader();
    renderGroups();
    if (switching) {
      state.messages = [];
      state.ids = new Set();
      state.hasMore = false;
      $('message-list').replaceChildren();
      $('older').textContent = 'Loading…';
    }
    if (!phone.matches) $('composer-input').focus();
    try {
      await loadLatest(true);
    } catch (e) {
      if (!(e instanceof AuthError)) $('older').textContent = 'Could not load messages: ' + e.message;
    }
  }

  function closeGroup() {
    state.current = null;
    sessionStorage.removeItem(CURRENT_KEY);
    $('app').classList.remove('show-chat');
    $('chat-empty').hidden = false;
    $('chat-head').hidden = true;
    $('messages').hidden = true;
    $('composer').hidden = true;
    renderGroups();
  }

  // ---- events -----------------------------------------------------------

  function onMessage(m) {
    if (window.ParleyPolls && window.ParleyPolls.hidden(m)) return;
    const g = state.groups.get(m.group);
    if (!g) {
      refreshGroups();
    } else {
      if (!g.last || cmpMsg(m, g.last) > 0) g.last = m;
      g.messages += 1;
      if (m.kind === 'join') refreshGroups(); // member count changed
    }
    ux('incoming', m);
    if (m.group === state.current) {
      if (addMessages([m])) renderMessages(m.author === state.self ? 'bottom' : 'keep');
    } else if (m.kind === 'text' && m.author !== state.self) {
      state.unread[m.group] = (state.unread[m.group] || 0) + 1;
      saveUnread();
    }
    renderGroups();
  }

  function handleEvent(ev) {
    switch (ev.type) {
      case 'message':
        if (ev.message) onMessage(ev.message);
        break;
      case 'group':
        refreshGroups();
        break;
      case 'peer':
        refreshStatus();
        break;
      case 'file':
        if (window.parleyFiles) window.parleyFiles.onEvent(ev); // files.js
        break;
      case 'update': // a message's tally, reactions, edits or deletion changed
        if (ev.message && window.ParleyPolls) window.ParleyPolls.update(ev.message);
        if (window.ParleyRich) window.ParleyRich.event(ev);
        ux('event', ev);
        break;
      default:
        if (window.ParleyRich) window.ParleyRich.event(ev);
        ux('event', ev);
        break;
    }
  }

  // resync reloads what events may have been missed while not subscribed.
  async function resync() {
    await Promise.all([loadStatus(), loadGroups()]);
    if (state.current) {
      if (state.groups.has(state.current)) await loadLatest(false);
      else closeGroup();
    }
  }

  // stream follows /v1/events with fetch (EventSource cannot send the
  // Authorization header), reconnecting with backoff.
  async function stream() {
    let backoff = 500;
    while (!state.stopped) {
      const ctrl = new AbortController();
      let last = Date.now();
      const watchdog = setInterval(() => { if (Date.now() - last > STREAM_IDLE_MS) ctrl.abort(); }, 5000);
      try {
        const res = await fetch('/v1/events', {
          headers: { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' },
          cache: 'no-store',
          signal: ctrl.signal,
        });
        if (res.status === 401) {
          showLogin('Your node did not accept this login. Run `parley web` for a current link.');
          return;
        }
        if (!res.ok || !res.body) throw new Error('events: ' + res.status);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        state.connected = true;
        state.everConnected = true;
        backoff = 500;
        renderConn();
        resync().catch(() => {}); // subscribed first, then load: nothing falls in between
        let buf = '';
        let data = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          last = Date.now();
          buf += value;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            let line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.endsWith('\r')) line = line.slice(0, -1);
            if (line === '') {
              if (data.length) {
                let ev = null;
                try { ev = JSON.parse(data.join('\n')); } catch (_) { /* skip */ }
                data = [];
                if (ev) handleEvent(ev);
              }
            } else if (line.startsWith('data:')) {
              data.push(line.slice(5).replace(/^ /, ''));
            }
          }
        }
      } catch (_) {
        // network error or watchdog abort: reconnect below
      } finally {
        clearInterval(watchdog);
      }
      if (state.stopped) return;
      state.connected = false;
      renderConn();
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10000);
    }
  }

  // ---- actions ----------------------------------------------------------

  async function send(text) {
    const id = state.current;
    try {
      const m = await api('POST', gpath(id) + '/messages', window.ParleyRich ? window.ParleyRich.body(text) : { text });
      if (state.current === id && addMessages([m])) renderMessages('bottom');
      const g = state.groups.get(id);
      if (g && (!g.last || cmpMsg(m, g.last) > 0)) { g.last = m; renderGroups(); }
      return true;
    } catch (e) {
      if (!(e instanceof AuthError)) toast('Not sent: ' + e.message, true);
      return false;
    }
  }

  function autosize() {
    const t = $('composer-input');
    t.style.height = 'auto';
    t.style.height = Math.min(t.scrollHeight + 2, window.innerHeight * 0.4) + 'px';
  }

  async function submitComposer(ev) {
    if (ev) ev.preventDefault();
    const input = $('composer-input');
    const text = input.value;
    if (window.parleyDM && window.parleyDM.command(text)) { input.value = ''; autosize(); return; } // dm.js: /dm
    if (!text.trim() || !state.current) return;
    if (ux('refuse', text)) return;
    input.value = '';
    autosize();
    if (!(await send(text)) && !input.value) {
      input.value = text;
      autosize();
    }
  }

  function openDialog(id) {
    const d = $(id);
    for (const e of d.querySelectorAll('.error')) e.textContent = '';
    d.showModal();
    return d;
  }

  async function createGroup(ev) {
    ev.preventDefault();
    const name = $('create-name').value.trim();
    if (!name) return;
    const btn = $('create-submit');
    btn.disabled = true;
    try {
      const g = await api('POST', '/v1/groups', { name, history_from_join: $('create-fromjoin').checked });
      state.groups.set(g.id, g);
      $('dlg-create').close();
      $('create-name').value = '';
      $('create-fromjoin').checked = false;
      await openGroup(g.id);
      refreshGroups();
    } catch (e) {
      if (!(e instanceof AuthError)) $('create-error').textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  }

  async function joinGroup(ev) {
    ev.preventDefault();
    const code = $('join-code').value.replace(/\s+/g, '');
    if (!code) return;
    const btn = $('join-submit');
    btn.disabled = true;
    btn.textContent = 'Joining…';
    try {
      const g = await api('POST', '/v1/join', { code });
      state.groups.set(g.id, g);
      $('dlg-join').close();
      $('join-code').value = '';
      await openGroup(g.id);
      refreshGroups();
      toast('Joined ' + g.name);
    } catch (e) {
      if (!(e instanceof AuthError)) $('join-error').textContent = e.message;
    } finally {
      btn.disabled = false;
      btn.textContent = 'Join';
    }
  }

  async function showInvite() {
    const g = state.groups.get(state.current);
    if (!g) return;
    $('invite-group').textContent = g.name;
    $('invite-code').value = '';
    $('invite-copy').disabled = true;
    openDialog('dlg-invite');
    try {
      const r = await api('POST', gpath(g.id) + '/invite');
      $('invite-code').value = r.code;
      ux('invite', r.code);
      $('invite-copy').disabled = false;
      $('invite-code').select();
    } catch (e) {
      if (!(e instanceof AuthError)) $('invite-error').textContent = e.message;
    }
  }

  async function copyInvite() {
    const t = $('invite-code');
    try {
      await navigator.clipboard.writeText(t.value);
    } catch (_) {
      t.select();
      document.execCommand('copy');
    }
    toast('Invite code copied');
  }

  async function showMembers() {
    const g = state.groups.get(state.current);
    if (!g) return;
    $('members-group').textContent = g.name;
    const list = $('members-list');
    list.replaceChildren(el('li', 'muted', 'Loading…'));
    openDialog('dlg-members');
    try {
      const ms = await api('GET', gpath(g.id) + '/members');
      list.replaceChildren(...ms.map((m) => {
        const li = el('li');
        const name = m.name || shortID(m.id);
        li.append(el('span', 'avatar c' + colour(m.id), initials(name)));
        const text = el('span', 'member-text');
        text.append(el('span', '', name + (m.self ? ' (you)' : '')));
        if (m.role) text.append(el('span', 'member-role', m.role));
        if (m.safety_number) {
          const sn = el('code', 'member-safety', m.safety_number);
          sn.title = 'Safety number: compare it with ' + name + ' in person to be sure';
          text.append(sn);
        }
        const idEl = el('code', 'member-id', m.id);
        idEl.title = m.id;
        text.append(idEl);
        li.append(text);
        return li;
      }));
    } catch (e) {
      if (!(e instanceof AuthError)) list.replaceChildren(el('li', 'error', e.message));
    }
  }

  // ---- start ------------------------------------------------------------

  function wire() {
    $('group-list').addEventListener('click', (e) => {
      const li = e.target.closest('.group');
      if (li) openGroup(li.dataset.id);
    });
    $('group-list').addEventListener('keydown', (e) => {
      const li = e.target.closest('.group');
      if (li && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); openGroup(li.dataset.id); }
    });
    $('btn-back').addEventListener('click', closeGroup);
    $('btn-create').addEventListener('click', () => { openDialog('dlg-create'); $('create-name').focus(); });
    $('btn-join').addEventListener('click', () => { openDialog('dlg-join'); $('join-code').focus(); });
    $('btn-invite').addEventListener('click', showInvite);
    $('chat-sub').addEventListener('click', showMembers);
    $('invite-copy').addEventListener('click', copyInvite);
    $('form-create').addEventListener('submit', createGroup);
    $('form-join').addEventListener('submit', joinGroup);
    for (const b of document.querySelectorAll('[data-close]')) {
      b.addEventListener('click', () => b.closest('dialog').close());
    }
    $('composer').addEventListener('submit', submitComposer);
    const input = $('composer-input');
    input.addEventListener('input', autosize);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) submitComposer(e);
    });
    $('messages').addEventListener('scroll', () => {
      if ($('messages').scrollTop < 120) loadOlder();
    });
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const tok = tokenFrom($('login-input').value);
      if (!tok) { $('login-reason').textContent = 'That is not a Parley login link.'; return; }
      localStorage.setItem(TOKEN_KEY, tok);
      location.reload();
    });
    setInterval(renderGroups, 60000); // relative times
  }

  async function main() {
    window.parleyApp = { api, state, openGroup, loadGroups, toast, el }; // for dm.js
    wire();
    if (window.parleyFiles) window.parleyFiles.init({ api, toast, gpath, token: () => state.token, current: () => state.current }); // files.js
    if (window.ParleyRich) window.ParleyRich.init({ api, gpath, state, render: renderMessages, toast, el });
    const fromHash = tokenFrom(location.hash);
    if (fromHash) {
      localStorage.setItem(TOKEN_KEY, fromHash);
      // Keep the token out of the address bar, history and bookmarks.
      history.replaceState(null, '', location.pathname + location.search);
    }
    state.token = localStorage.getItem(TOKEN_KEY) || '';
    if (!state.token) { showLogin(); return; }
    try { state.unread = JSON.parse(sessionStorage.getItem(UNREAD_KEY) || '{}') || {}; } catch (_) { state.unread = {}; }
    $('app').hidden = false;
    ux('init', { state, api, gpath, el, renderGroups, renderMessages, toast, AuthError });
    try {
      await Promise.all([loadStatus(), loadGroups()]);
    } catch (e) {
      if (e instanceof AuthError) return;
      toast('Cannot reach your node: ' + e.message, true);
    }
    const saved = sessionStorage.getItem(CURRENT_KEY) || (await ux('lastOpen'));
    if (saved && state.groups.has(saved) && !phone.matches) openGroup(saved);
    stream();
  }

  window.Parley = { api, gpath, state, toast, renderMessages }; // for polls.js
  // For search.js: what it needs to list results and open one in place.
  window.parleyApp = { api, gpath, state, openGroup, loadOlder, AuthError };
  main();
})();
