// Parley web chat: replies, reactions, edits and deletes. app.js calls
// ParleyRich.init once, decorate for each message it draws, body for each
// message it sends and event for events it does not handle itself. All
// user-supplied text goes through textContent.
'use strict';
(function () {
  const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🎉'];
  let ctx = null; // { api, gpath, state, render, toast, el }
  let replyTo = null; // the message being answered
  const roles = new Map(); // group id -> our role, once fetched

  function el(tag, cls, text) { return ctx.el(tag, cls, text); }
  function who(id, name) { return name || (id ? '…' + id.slice(-6) : 'someone'); }

  function init(c) {
    ctx = c;
    const bar = el('div', 'reply-bar');
    bar.id = 'reply-bar';
    bar.hidden = true;
    const label = el('span', 'reply-label');
    const cancel = el('button', 'icon-btn reply-cancel', '✕');
    cancel.type = 'button';
    cancel.setAttribute('aria-label', 'Cancel reply');
    cancel.addEventListener('click', clearReply);
    bar.append(label, cancel);
    const composer = document.getElementById('composer');
    composer.parentNode.insertBefore(bar, composer);
  }

  function setReply(m) {
    replyTo = m;
    const bar = document.getElementById('reply-bar');
    bar.querySelector('.reply-label').textContent = 'Replying to ' + who(m.author, m.author_name) + ': ' + excerpt(m.text);
    bar.hidden = false;
    document.getElementById('composer-input').focus();
  }

  function clearReply() {
    replyTo = null;
    const bar = document.getElementById('reply-bar');
    if (bar) bar.hidden = true;
  }

  function excerpt(s) {
    s = String(s || '');
    return s.length > 80 ? s.slice(0, 79) + '…' : s;
  }

  // body is what app.js posts for a new message.
  function body(text) {
    const b = { text };
    if (replyTo && replyTo.group === ctx.state.current) b.reply_to = replyTo.id;
    clearReply();
    return b;
  }

  async function role(group) {
    if (roles.has(group)) return roles.get(group);
    roles.set(group, '');
    try {
      const ms = await ctx.api('GET', ctx.gpath(group) + '/members');
      const me = (ms || []).find((x) => x.self);
      roles.set(group, (me && me.role) || 'member');
      if (group === ctx.state.current) ctx.render('keep');
    } catch (_) { roles.delete(group); }
    return roles.get(group);
  }

  async function act(method, path, payload, what) {
    try {
      await ctx.api(method, ctx.gpath(ctx.state.current) + '/messages/' + path, payload);
    } catch (e) {
      ctx.toast(what + ' failed: ' + e.message, true);
    }
  }

  function react(m, emoji, remove) {
    return act('POST', encodeURIComponent(m.id) + '/reactions', { emoji, remove }, 'Reaction');
  }

  function button(text, label, fn) {
    const b = el('button', 'rich-btn', text);
    b.type = 'button';
    b.title = label;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', (e) => { e.stopPropagation(); fn(); });
    return b;
  }

  function decorate(li, m, bubble) {
    if (m.deleted) {
      li.classList.remove('unsupported');
      li.classList.add('deleted');
      bubble.textContent = 'Message deleted';
      return;
    }
    if (m.kind !== 'text') return;
    if (m.mentions_me) li.classList.add('mention');
    if (m.reply_to) {
      const q = el('button', 'quote');
      q.type = 'button';
      if (m.quote && m.quote.deleted) q.textContent = '↳ Deleted message';
      else if (m.quote) q.textContent = '↳ ' + who(m.quote.author, m.quote.author_name) + ': ' + m.quote.excerpt;
      else q.textContent = '↳ An earlier message';
      q.addEventListener('click', () => {
        const t = document.querySelector('li[data-id="' + CSS.escape(m.reply_to) + '"]');
        if (t) { t.scrollIntoView({ block: 'center' }); t.classList.add('flash'); setTimeout(() => t.classList.remove('flash'), 1200); }
      });
      bubble.prepend(q);
    }
    if (m.edited) {
      const e = el('span', 'edited', ' (edited)');
      e.title = (m.edits || []).map((x) => new Date(x.time).toLocaleString() + ': ' + x.text).join('\n');
      bubble.append(e);
    }
    if (m.reactions && m.reactions.length) {
      const rs = el('div', 'reactions');
      for (const r of m.reactions) {
        const b = button(r.emoji + ' ' + r.count, (r.mine ? 'Remove your ' : 'Add ') + r.emoji, () => react(m, r.emoji, !!r.mine));
        if (r.mine) b.classList.add('mine');
        rs.append(b);
      }
      li.append(rs);
    }
    const self = m.author === ctx.state.self;
    const acts = el('div', 'msg-actions');
    acts.append(button('↩', 'Reply', () => setReply(m)));
    const pick = el('div', 'emoji-picker');
    pick.hidden = true;
    for (const e of EMOJI) pick.append(button(e, 'React ' + e, () => { pick.hidden = true; react(m, e, false); }));
    acts.append(button('☺', 'React', () => { pick.hidden = !pick.hidden; }));
    if (self) {
      acts.append(button('✎', 'Edit', () => {
        const t = window.prompt('Edit your message', m.text);
        if (t !== null && t.trim() && t !== m.text) act('POST', encodeURIComponent(m.id) + '/edit', { text: t }, 'Edit');
      }));
    }
    const r = roles.has(m.group) ? roles.get(m.group) : (role(m.group), '');
    if (self || r === 'admin' || r === 'owner') {
      acts.append(button('🗑', 'Delete', () => {
        if (window.confirm('Delete this message for everyone?')) act('DELETE', encodeURIComponent(m.id), undefined, 'Delete');
      }));
    }
    acts.append(pick);
    li.append(acts);
  }

  // event handles 'update': a message's reactions, text or deletion changed.
  function event(ev) {
    if (ev.type !== 'update' || !ev.message || ev.message.group !== ctx.state.current) return;
    const ms = ctx.state.messages;
    const i = ms.findIndex((x) => x.id === ev.message.id);
    if (i < 0) return;
    ms[i] = ev.message;
    ctx.render('keep');
  }

  window.ParleyRich = { init, body, decorate, event };
})();
