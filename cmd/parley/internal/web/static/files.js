// Parley web chat: files. Pictures show inline with a preview, every file
// can be downloaded, drag-and-drop and a file picker send one, and fetches
// show a progress bar with speed and time left. app.js calls the hooks on
// window.parleyFiles: init, bubble (a file message's bubble), onEvent.
'use strict';
(function () {
  let ctx = null; // from app.js: api, token(), current(), toast, gpath
  const progress = new Map(); // message id -> latest FileProgress
  const bars = new Map(); // message id -> element to update
  const blobs = new Map(); // message id -> object URL of its content

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function size(n) {
    const u = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + u[i];
  }

  function eta(s) {
    if (!s || s <= 0) return '';
    if (s < 90) return Math.round(s) + ' s left';
    if (s < 5400) return Math.round(s / 60) + ' min left';
    return (s / 3600).toFixed(1) + ' h left';
  }

  const isPicture = (f) => /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(f.mime || '');

  async function content(m) {
    if (blobs.has(m.id)) return blobs.get(m.id);
    const res = await fetch(ctx.gpath(m.group) + '/files/' + m.id + '/content',
      { headers: { Authorization: 'Bearer ' + ctx.token() }, cache: 'no-store' });
    if (!res.ok) {
      let msg = 'the node answered ' + res.status;
      try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    const url = URL.createObjectURL(await res.blob());
    blobs.set(m.id, url);
    return url;
  }

  async function download(m) {
    try {
      const a = el('a');
      a.href = await content(m);
      a.download = m.file.name;
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) { ctx.toast('Download failed: ' + e.message, true); }
  }

  async function fetchFile(m) {
    try {
      await ctx.api('POST', ctx.gpath(m.group) + '/files/' + m.id + '/fetch');
    } catch (e) { ctx.toast('Cannot fetch ' + m.file.name + ': ' + e.message, true); }
  }

  function renderBar(box, p) {
    box.textContent = '';
    const pct = p.total ? Math.floor(100 * p.done / p.total) : 100;
    const bar = el('progress', 'file-bar');
    bar.max = 100;
    bar.value = pct;
    box.append(bar);
    const parts = [pct + '% of ' + size(p.total)];
    if (p.speed) parts.push(size(p.speed) + '/s');
    if (p.eta) parts.push(eta(p.eta));
    box.append(el('span', 'file-meta', parts.join(' · ')));
  }

  // bubble is a file message's bubble: name, size, a preview for pictures
  // held here, buttons to fetch or download.
  async function fillBubble(b, m) {
    const f = m.file;
    b.textContent = '';
    b.dataset.mime = f.mime || '';
    const head = el('div', 'file-head');
    head.append(el('span', 'file-name', '📎 ' + f.name));
    head.append(el('span', 'file-meta', ' ' + size(f.size)));
    b.append(head);
    const box = el('div', 'file-state');
    b.append(box);
    bars.set(m.id, box);
    let info = null;
    try { info = await ctx.api('GET', ctx.gpath(m.group) + '/files/' + m.id); } catch (_) { /* listed later */ }
    const p = progress.get(m.id);
    if (info && info.state === 'complete') {
      if (isPicture(f)) {
        const img = el('img', 'file-preview');
        img.alt = f.name;
        img.loading = 'lazy';
        content(m).then((u) => { img.src = u; }).catch(() => img.remove());
        img.addEventListener('click', () => download(m));
        b.append(img);
      }
      const btn = el('button', 'file-btn', 'Download');
      btn.type = 'button';
      btn.addEventListener('click', () => download(m));
      box.append(btn);
    } else if (info && info.state === 'failed') {
      box.append(el('span', 'file-meta', 'The file does not match its announcement (refused).'));
    } else if (p && p.state === 'partial' || info && info.fetching) {
      renderBar(box, p || { done: info.done, total: info.size, speed: info.speed, eta: info.eta });
    } else {
      const btn = el('button', 'file-btn', 'Fetch');
      btn.type = 'button';
      btn.addEventListener('click', () => { btn.disabled = true; fetchFile(m); });
      box.append(btn);
      if (info && info.done) box.append(el('span', 'file-meta', ' ' + size(info.done) + ' held'));
    }
  }

  function bubble(m) {
    const b = el('div', 'bubble file');
    fillBubble(b, m);
    return b;
  }

  function onEvent(ev) {
    const p = ev.file;
    if (!p) return;
    progress.set(p.id, p);
    const box = bars.get(p.id);
    if (!box || !box.isConnected) return;
    if (p.state === 'partial') { renderBar(box, p); return; }
    const b = box.closest('.bubble');
    if (b) fillBubble(b, { id: p.id, group: p.group, file: { name: p.name, size: p.total, mime: b.dataset.mime } });
    if (p.error && p.state !== 'complete') ctx.toast(p.name + ': ' + p.error, true);
  }

  async function upload(file) {
    const g = ctx.current();
    if (!g) { ctx.toast('Open a group first', true); return; }
    ctx.toast('Sending ' + file.name + ' (' + size(file.size) + ')…');
    try {
      const res = await fetch(ctx.gpath(g) + '/files/upload?name=' + encodeURIComponent(file.name), {
        method: 'POST', body: file, cache: 'no-store',
        headers: { Authorization: 'Bearer ' + ctx.token(), 'Content-Type': 'application/octet-stream' },
      });
      if (!res.ok) {
        let msg = 'the node answered ' + res.status;
        try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
        throw new Error(msg);
      }
    } catch (e) { ctx.toast('Cannot send ' + file.name + ': ' + e.message, true); }
  }

  function init(c) {
    ctx = c;
    const composer = document.getElementById('composer');
    if (!composer) return;
    const pick = el('input');
    pick.type = 'file';
    pick.multiple = true;
    pick.hidden = true;
    pick.addEventListener('change', () => { for (const f of pick.files) upload(f); pick.value = ''; });
    const btn = el('button', 'file-attach', '📎');
    btn.type = 'button';
    btn.title = 'Send a file';
    btn.setAttribute('aria-label', 'Send a file');
    btn.addEventListener('click', () => pick.click());
    composer.prepend(pick, btn);
    const zone = document.getElementById('messages') || document.body;
    for (const t of [zone, composer]) {
      t.addEventListener('dragover', (e) => { if (ctx.current()) { e.preventDefault(); zone.classList.add('drop'); } });
      t.addEventListener('dragleave', () => zone.classList.remove('drop'));
      t.addEventListener('drop', (e) => {
        e.preventDefault();
        zone.classList.remove('drop');
        for (const f of e.dataTransfer.files) upload(f);
      });
    }
  }

  window.parleyFiles = { init, bubble, onEvent };
})();
