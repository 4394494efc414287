// Parley web chat, what people need to see: unread and mention counts kept
// by the node (opening a group marks it read), the conversation last open,
// muted groups, delivery marks on own messages, a notice of messages known
// to be missing, clickable links, each message's time, the invite as a QR
// code, and the message limit counted as the node counts it (bytes of
// UTF-8). app.js calls these hooks through window.parleyUX.
'use strict';
(function () {
  const MAX_TEXT = 16384; // node.MaxTextLen, in bytes of UTF-8
  const COUNTER_FROM = MAX_TEXT * 3 / 4;
  const enc = new TextEncoder();
  const byteLen = (s) => enc.encode(s).length;
  const $ = (id) => document.getElementById(id);
  let app = null;
  let markTimer = 0;
  let missingTimer = 0;
  const mentions = {}; // group id -> unread messages mentioning me

  function markRead(id) {
    clearTimeout(markTimer);
    markTimer = setTimeout(() => {
      app.api('POST', app.gpath(id) + '/read').then((r) => {
        const g = r && r.group && app.state.groups.get(id);
        if (g) { Object.assign(g, r.group); showMissing(g); }
      }).catch(() => {});
    }, 300);
    delete mentions[id];
  }

  // ---- links --------------------------------------------------------------

  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

  // linkify turns http(s) addresses in a bubble's text into links, built as
  // DOM nodes (never markup); anything else stays text.
  function linkify(bubble, text) {
    const parts = [];
    let last = 0;
    for (const mt of text.matchAll(URL_RE)) {
      const u = mt[0].replace(/[.,;:!?)\]}'"]+$/, '');
      let href = '';
      try {
        const p = new URL(u);
        if (p.protocol === 'http:' || p.protocol === 'https:') href = p.href;
      } catch (_) { /* not a URL: text */ }
      if (!href) continue;
      if (mt.index > last) parts.push(document.createTextNode(text.slice(last, mt.index)));
      const a = document.createElement('a');
      a.href = href;
      a.textContent = u;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      parts.push(a);
      last = mt.index + u.length;
    }
    if (parts.length === 0) return;
    if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
    bubble.replaceChildren(...parts);
  }

  // ---- delivery -----------------------------------------------------------

  function deliveryText(d) {
    if (!d || d.members <= 1) return { text: '✓', cls: 'sent', title: 'Sent' };
    let text = d.state === 'stored' ? '✓✓' : '✓ ' + d.stored_by + '/' + d.members;
    let title = d.state === 'stored' ? 'Stored by every member' : 'Stored by ' + d.stored_by + ' of ' + d.members + ' members';
    if (d.read_by > 0) { text += ' · read by ' + d.read_by; title += ', read by ' + d.read_by; }
    return { text, cls: d.state, title };
  }

  async function refreshDelivery() {
    const st = app.state;
    const id = st.current;
    if (!id) return;
    const ids = st.messages.filter((m) => m.author === st.self && m.kind === 'text' &&
      (!m.delivery || m.delivery.state !== 'stored' || m.delivery.read_by < m.delivery.members - 1))
      .slice(-200).map((m) => m.id);
    if (ids.length === 0) return;
    try {
      const ds = await app.api('POST', app.gpath(id) + '/delivery', { ids });
      if (st.current !== id || !ds) return;
      let changed = false;
      for (const m of st.messages) {
        const d = ds[m.id];
        if (d && JSON.stringify(d) !== JSON.stringify(m.delivery)) { m.delivery = d; changed = true; }
      }
      if (changed) app.renderMessages('keep');
    } catch (_) { /* next event or tick */ }
  }

  // ---- missing messages ---------------------------------------------------

  function missingText(ms) {
    return ms.map((x) => {
      const n = x.count === 1 ? '1 message' : x.count + ' messages';
      if (x.name) return n + ' from ' + x.name;
      if (x.author) return n + ' from ' + x.author.slice(0, 6) + '…' + x.author.slice(-6);
      return n;
    }).join(', ') + ' not yet received';
  }

  function showMissing(g) {
    const box = $('missing-notice');
    if (!box) return;
    const open = g && g.id === app.state.current;
    const ms = open && g.missing ? g.missing : [];
    box.hidden = ms.length === 0;
    box.textContent = ms.length ? missingText(ms) : '';
    clearTimeout(missingTimer);
    if (ms.length) {
      // Until sync fills them: look again.
      missingTimer = setTimeout(() => {
        app.api('GET', app.gpath(g.id)).then((gi) => {
          const cur = app.state.groups.get(gi.id);
          if (cur) { Object.assign(cur, gi); showMissing(cur); }
        }).catch(() => {});
      }, 5000);
    }
  }

  // ---- composer -----------------------------------------------------------

  function updateCounter() {
    const n = byteLen($('composer-input').value);
    const c = $('byte-count');
    c.hidden = n < COUNTER_FROM;
    c.textContent = n + ' / ' + MAX_TEXT + ' bytes';
    c.classList.toggle('over', n > MAX_TEXT);
  }

  // ---- hooks --------------------------------------------------------------

  window.parleyUX = {
    init(a) {
      app = a;
      const box = document.createElement('p');
      box.id = 'missing-notice';
      box.className = 'missing-notice';
      box.setAttribute('role', 'status');
      box.hidden = true;
      $('messages').before(box);
      const c = document.createElement('span');
      c.id = 'byte-count';
      c.className = 'byte-count';
      c.setAttribute('aria-live', 'polite');
      c.hidden = true;
      $('composer-input').after(c);
      $('composer-input').addEventListener('input', updateCounter);
      $('composer').addEventListener('submit', () => setTimeout(updateCounter, 0));
    },

    // groups: the node's unread counts replace the page's (muted groups
    // are counted quietly, outside the title's total).
    groups(gs) {
      const st = app.state;
      for (const g of gs) {
        if (g.id === st.current || g.muted || !g.unread) delete st.unread[g.id];
        else st.unread[g.id] = g.unread;
        if (g.mentions > 0 && g.id !== st.current) mentions[g.id] = g.mentions;
        else delete mentions[g.id];
      }
    },

    group(li, g, n) {
      const badge = li.querySelector('.badge');
      if (g.muted) {
        li.classList.add('muted');
        li.classList.remove('unread');
        if (g.unread > 0 && g.id !== app.state.current) {
          const b = app.el('span', 'badge quiet', g.unread > 99 ? '99+' : g.unread);
          b.setAttribute('aria-label', g.unread + ' unread, muted');
          li.lastChild.replaceWith(b);
        }
      } else if (badge && mentions[g.id] > 0) {
        badge.textContent = '@' + badge.textContent;
        badge.classList.add('mention');
        badge.setAttribute('aria-label', n + ' unread, mentioning you');
      }
    },

    header(g) { showMissing(g); },

    open(id) {
      markRead(id);
      const g = app.state.groups.get(id);
      if (g) { g.unread = 0; g.mentions = 0; }
    },

    incoming(m) {
      const st = app.state;
      const g = st.groups.get(m.group);
      if (m.group === st.current) {
        if (m.author !== st.self) markRead(m.group);
        return;
      }
      if (m.author === st.self || m.kind !== 'text') return;
      if (m.mentions_me) mentions[m.group] = (mentions[m.group] || 0) + 1;
      if (g) g.unread = (g.unread || 0) + 1;
      if (g && g.muted) queueMicrotask(() => { delete st.unread[m.group]; app.renderGroups(); });
    },

    event(ev) {
      if (ev.type === 'delivery' && ev.group === app.state.current) refreshDelivery();
    },

    message(li, m, bubble, cont) {
      if (m.kind === 'text') linkify(bubble, m.text);
      const foot = app.el('div', 'msg-foot');
      if (cont) {
        const d = new Date(m.time);
        const t = app.el('time', 'msg-time', d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' }));
        t.dateTime = m.time;
        t.title = d.toLocaleString();
        foot.append(t);
      }
      if (m.author === app.state.self && m.kind === 'text') {
        const dt = deliveryText(m.delivery);
        const s = app.el('span', 'msg-delivery ' + dt.cls, dt.text);
        s.title = dt.title;
        foot.append(s);
        if (!m.delivery) setTimeout(refreshDelivery, 1500);
      }
      if (foot.childNodes.length) li.append(foot);
    },

    // refuse: over the limit, say so and keep the text.
    refuse(text) {
      const n = byteLen(text);
      if (n <= MAX_TEXT) return false;
      app.toast('Not sent: the message is ' + n + ' bytes; the limit is ' + MAX_TEXT + ' bytes (UTF-8). Shorten it.', true);
      return true;
    },

    async invite(code) {
      const img = $('invite-qr');
      img.hidden = true;
      try {
        const res = await fetch('/v1/qr', {
          method: 'POST', cache: 'no-store',
          headers: { Authorization: 'Bearer ' + app.state.token, 'Content-Type': 'application/json' },
          body: JSON.stringify({ text: code }),
        });
        if (!res.ok) return;
        const svg = await res.text();
        img.src = 'data:image/svg+xml;base64,' + btoa(svg);
        img.hidden = false;
      } catch (_) { /* the code is shown as text anyway */ }
    },

    async lastOpen() {
      try {
        const r = await app.api('GET', '/v1/last-open');
        return (r && r.group) || '';
      } catch (_) {
        return '';
      }
    },
  };
})();
