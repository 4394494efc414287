// Parley web chat, direct messages: "/dm NAME TEXT" in the composer, and a
// Contacts panel (your contact code, adding a contact, messaging, blocking).
// Uses app.js's helpers (window.parleyApp); user text only via textContent.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const app = () => window.parleyApp;

  async function dm(contact, text) {
    const a = app();
    try {
      const m = await a.api('POST', '/v1/dm/' + encodeURIComponent(contact) + '/messages', { text });
      if (!a.state.groups.has(m.group)) await a.loadGroups();
      await a.openGroup(m.group);
    } catch (e) {
      a.toast('Not sent: ' + e.message, true);
    }
  }

  // command handles "/dm CONTACT TEXT"; true if it took the line.
  function command(line) {
    const t = line.trim();
    if (!/^\/(dm|msg)\s/.test(t)) return false;
    const rest = t.replace(/^\/\S+\s+/, '');
    const sp = rest.search(/\s/);
    if (sp < 0) { app().toast('Usage: /dm CONTACT TEXT', true); return true; }
    dm(rest.slice(0, sp), rest.slice(sp).trim());
    return true;
  }

  function dialog() {
    let d = $('dlg-contacts');
    if (d) return d;
    const el = app().el;
    d = el('dialog', 'dialog');
    d.id = 'dlg-contacts';
    const form = el('form');
    form.method = 'dialog';
    form.append(el('h3', '', 'Contacts'));
    form.append(el('p', 'muted', 'Your contact code (others add you with it):'));
    const code = el('code', 'invite-code');
    code.id = 'contact-code';
    form.append(code);
    const copy = el('button', 'btn small', 'Copy my code');
    copy.type = 'button';
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(code.textContent).then(() => app().toast('Contact code copied'), () => {});
    });
    form.append(copy);
    const add = el('input');
    add.id = 'contact-add';
    add.placeholder = 'Paste a contact code (parleyc1…)';
    add.autocomplete = 'off';
    const addBtn = el('button', 'btn small', 'Add contact');
    addBtn.type = 'button';
    addBtn.addEventListener('click', async () => {
      try {
        const c = await app().api('POST', '/v1/contacts', { code: add.value.replace(/\s+/g, '') });
        add.value = '';
        app().toast('Added ' + c.name);
        refresh();
      } catch (e) { app().toast(e.message, true); }
    });
    form.append(add, addBtn);
    const list = el('ul', 'members-list');
    list.id = 'contacts-list';
    form.append(list);
    const actions = el('div', 'dialog-actions');
    const close = el('button', 'btn', 'Close');
    close.type = 'button';
    close.addEventListener('click', () => d.close());
    actions.append(close);
    form.append(actions);
    d.append(form);
    document.body.append(d);
    return d;
  }

  async function refresh() {
    const a = app();
    const el = a.el;
    const list = $('contacts-list');
    try {
      const [code, cs] = await Promise.all([a.api('GET', '/v1/contacts/code'), a.api('GET', '/v1/contacts')]);
      $('contact-code').textContent = code.code;
      list.replaceChildren(...cs.map((c) => {
        const li = el('li');
        const text = el('span', 'member-text');
        text.append(el('span', '', c.name + (c.blocked ? ' (blocked)' : '')));
        text.append(el('code', 'member-safety', c.safety_number));
        li.append(text);
        const msg = el('button', 'btn small', 'Message');
        msg.type = 'button';
        msg.disabled = c.blocked;
        msg.addEventListener('click', async () => {
          try {
            const g = await a.api('POST', '/v1/dm/' + encodeURIComponent(c.peer_id));
            await a.loadGroups();
            $('dlg-contacts').close();
            await a.openGroup(g.id);
          } catch (e) { a.toast(e.message, true); }
        });
        const blk = el('button', 'btn small', c.blocked ? 'Unblock' : 'Block');
        blk.type = 'button';
        blk.addEventListener('click', async () => {
          try {
            await a.api('POST', '/v1/contacts/' + encodeURIComponent(c.peer_id) + (c.blocked ? '/unblock' : '/block'));
            refresh();
          } catch (e) { a.toast(e.message, true); }
        });
        li.append(msg, blk);
        return li;
      }));
    } catch (e) {
      list.replaceChildren(el('li', 'error', e.message));
    }
  }

  function wire() {
    const bar = document.querySelector('.sidebar-actions');
    if (!bar || !app()) return;
    const b = app().el('button', 'btn', 'Contacts');
    b.id = 'btn-contacts';
    b.type = 'button';
    b.addEventListener('click', () => { dialog().showModal(); refresh(); });
    bar.append(b);
  }

  window.parleyDM = { command };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', wire);
  else wire();
})();
