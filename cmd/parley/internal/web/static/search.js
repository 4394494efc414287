// Parley web chat: full-text search. A box above the group list asks the
// node (GET /v1/search); clicking a result opens its group, pages older
// messages in until the result is loaded, and scrolls to it.
'use strict';
(function () {
  const app = window.parleyApp;
  if (!app) return;
  const $ = (id) => document.getElementById(id);
  const MAX_PAGES = 200; // how far back a result may be

  // The styles are a file of their own: the page's CSP allows no inline style.
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = 'search.css';
  document.head.append(link);

  const form = document.createElement('form');
  form.className = 'search-form';
  form.setAttribute('role', 'search');
  const input = document.createElement('input');
  input.type = 'search';
  input.id = 'search-input';
  input.placeholder = 'Search messages';
  input.setAttribute('aria-label', 'Search messages in all groups');
  input.maxLength = 1000;
  form.append(input);
  const note = document.createElement('p');
  note.className = 'search-note';
  note.hidden = true;
  const list = document.createElement('ul');
  list.className = 'search-results';
  list.hidden = true;
  const anchor = document.querySelector('.sidebar-actions');
  anchor.after(form, note, list);

  function clear() {
    list.replaceChildren();
    list.hidden = true;
    note.hidden = true;
  }

  function text(tag, cls, s) {
    const e = document.createElement(tag);
    e.className = cls;
    e.textContent = s;
    return e;
  }

  async function search(q) {
    if (!q.trim()) { clear(); return; }
    note.hidden = false;
    note.textContent = 'Searching…';
    let res;
    try {
      res = await app.api('GET', '/v1/search?q=' + encodeURIComponent(q) + '&limit=50');
    } catch (e) {
      if (!(e instanceof app.AuthError)) note.textContent = e.message;
      return;
    }
    note.textContent = res.length ? res.length + (res.length === 50 ? '+' : '') + ' found' : 'No messages found';
    list.replaceChildren(...res.map((r) => {
      const li = document.createElement('li');
      li.tabIndex = 0;
      const m = r.message;
      const who = m.author === app.state.self ? 'You' : (m.author_name || m.author.slice(-8));
      li.append(text('div', 'sr-meta', r.group_name + ' · ' + who + ' · ' + new Date(m.time).toLocaleString()),
        text('div', 'sr-text', m.text || ''));
      li.title = m.text || '';
      const go = () => openAt(r.group_id, m.id);
      li.addEventListener('click', go);
      li.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
      return li;
    }));
    list.hidden = res.length === 0;
  }

  // openAt opens the group and scrolls to message id, paging older
  // messages in until it is loaded.
  async function openAt(group, id) {
    await app.openGroup(group);
    const st = app.state;
    for (let i = 0; i < MAX_PAGES && st.current === group && !st.ids.has(id); i++) {
      if (st.loadingOlder) { await new Promise((r) => setTimeout(r, 50)); continue; }
      if (!st.hasMore) break;
      await app.loadOlder();
    }
    const li = document.querySelector('#message-list li[data-id="' + CSS.escape(id) + '"]');
    if (!li) { note.hidden = false; note.textContent = 'That message is no longer in the history.'; return; }
    document.querySelectorAll('li.search-hit').forEach((e) => e.classList.remove('search-hit'));
    li.classList.add('search-hit');
    li.scrollIntoView({ block: 'center' });
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); search(input.value); });
  input.addEventListener('input', () => { if (!input.value) clear(); });
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { input.value = ''; clear(); } });
})();
