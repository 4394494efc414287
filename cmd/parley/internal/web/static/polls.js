// Parley web chat: polls. A poll message shows its question and options
// as buttons with live bars and counts (click to vote, again to change);
// "Poll" in the chat header opens a form to create one. It uses app.js's
// helpers through window.Parley and is called from app.js through
// window.ParleyPolls. All user text goes through textContent.
'use strict';
(function () {
  const P = () => window.Parley;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const ppath = (group, id) => P().gpath(group) + '/polls/' + encodeURIComponent(id);

  // setPoll stores a fresh tally on the poll's message and redraws.
  function setPoll(id, poll) {
    const m = P().state.messages.find((x) => x.id === id);
    if (!m) return;
    m.poll = poll;
    P().renderMessages('keep');
  }

  async function vote(m, i) {
    const p = m.poll;
    let choices;
    if (p.multi) {
      choices = p.my_choices.includes(i) ? p.my_choices.filter((c) => c !== i) : p.my_choices.concat([i]);
    } else {
      choices = p.my_choices.length === 1 && p.my_choices[0] === i ? [] : [i];
    }
    try {
      setPoll(m.id, await P().api('POST', ppath(m.group, m.id) + '/vote', { choices }));
    } catch (e) {
      P().toast('Vote failed: ' + e.message, true);
    }
  }

  async function closePoll(m) {
    try {
      setPoll(m.id, await P().api('POST', ppath(m.group, m.id) + '/close', {}));
    } catch (e) {
      P().toast('Cannot close the poll: ' + e.message, true);
    }
  }

  // render is the poll's body: question, one button per option, a footer.
  function render(m) {
    const p = m.poll;
    const box = el('div', 'poll' + (p.closed ? ' closed' : ''));
    box.append(el('div', 'poll-q', p.question));
    const list = el('div', 'poll-options');
    const total = Math.max(p.total_voters, 1);
    p.options.forEach((o, i) => {
      const b = el('button', 'poll-opt' + (o.mine ? ' mine' : ''));
      b.type = 'button';
      b.disabled = p.closed;
      const fill = el('span', 'poll-fill');
      fill.style.width = Math.round((o.count / total) * 100) + '%'; // CSSOM: allowed by the CSP
      const label = el('span', 'poll-label', (o.mine ? '✓ ' : '') + o.text);
      const count = el('span', 'poll-count', String(o.count));
      b.append(fill, label, count);
      if (o.voters && o.voters.length) b.title = o.voters.map((v) => v.name || v.id.slice(-8)).join(', ');
      b.addEventListener('click', () => vote(m, i));
      list.append(b);
    });
    box.append(list);
    const foot = el('div', 'poll-foot');
    const kind = (p.multi ? 'Several choices' : 'One choice') + (p.anonymous ? ' · anonymous' : '');
    foot.append(el('span', '', kind + ' · ' + p.total_voters + (p.total_voters === 1 ? ' vote' : ' votes') + (p.closed ? ' · closed' : '')));
    if (!p.closed && p.creator === P().state.self) {
      const c = el('button', 'poll-close', 'Close poll');
      c.type = 'button';
      c.addEventListener('click', () => closePoll(m));
      foot.append(c);
    }
    box.append(foot);
    return box;
  }

  // ---- the create form (built here: no markup in index.html) ----------

  let dlg = null;

  function field(form, label, input) {
    const l = el('label', '', label);
    l.htmlFor = input.id;
    form.append(l, input);
  }

  function buildDialog() {
    dlg = el('dialog', 'dialog');
    dlg.id = 'dlg-poll';
    const form = el('form');
    form.method = 'dialog';
    form.append(el('h3', '', 'New poll'));
    const q = el('input');
    q.id = 'poll-question'; q.required = true; q.maxLength = 16000;
    field(form, 'Question', q);
    const opts = el('textarea');
    opts.id = 'poll-options'; opts.rows = 4; opts.placeholder = 'One option per line (2 to 10)';
    field(form, 'Options', opts);
    const multi = el('input'); multi.type = 'checkbox'; multi.id = 'poll-multi';
    const anon = el('input'); anon.type = 'checkbox'; anon.id = 'poll-anon';
    const ml = el('label', 'poll-check'); ml.append(multi, ' Several choices allowed');
    const al = el('label', 'poll-check'); al.append(anon, ' Anonymous (counts only)');
    form.append(ml, al);
    const actions = el('div', 'dialog-actions');
    const cancel = el('button', 'btn', 'Cancel'); cancel.type = 'button';
    cancel.addEventListener('click', () => dlg.close());
    const ok = el('button', 'btn primary', 'Create poll'); ok.type = 'submit';
    actions.append(cancel, ok);
    form.append(actions);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const options = opts.value.split('\n').map((s) => s.trim()).filter((s) => s);
      if (options.length < 2 || options.length > 10) { P().toast('A poll has 2 to 10 options', true); return; }
      const group = P().state.current;
      try {
        await P().api('POST', P().gpath(group) + '/polls', { question: q.value.trim(), options, multi: multi.checked, anonymous: anon.checked });
        q.value = ''; opts.value = ''; multi.checked = false; anon.checked = false;
        dlg.close();
      } catch (e) {
        P().toast('Cannot create the poll: ' + e.message, true);
      }
    });
    dlg.append(form);
    document.body.append(dlg);
  }

  function openCreate() {
    if (!P().state.current) return;
    if (!dlg) buildDialog();
    dlg.showModal();
    document.getElementById('poll-question').focus();
  }

  function addButton() {
    const inv = document.getElementById('btn-invite');
    if (!inv || document.getElementById('btn-poll')) return;
    const b = el('button', 'btn small', 'Poll');
    b.id = 'btn-poll';
    b.type = 'button';
    b.title = 'Create a poll';
    b.addEventListener('click', openCreate);
    inv.before(b);
  }

  window.ParleyPolls = {
    // hidden: votes and closes show in their poll's tally, not as messages.
    hidden: (m) => m.kind === 'vote' || m.kind === 'poll_close',
    // preview is the group list's line for a poll action ('' for others);
    // it never names a voter (the poll may be anonymous).
    preview(m) {
      if (m.kind === 'poll') return 'Poll: ' + m.text.replace(/\s+/g, ' ');
      if (m.kind === 'vote') return 'New vote in a poll';
      if (m.kind === 'poll_close') return 'A poll was closed';
      return '';
    },
    // decorate turns a poll message's bubble into the poll.
    decorate(m, li, bubble) {
      if (m.kind !== 'poll' || !m.poll) return;
      li.classList.remove('unsupported');
      bubble.classList.add('poll-bubble');
      bubble.replaceChildren(render(m));
    },
    // update applies an "update" event (a poll's new tally).
    update(m) {
      if (m.poll && m.group === P().state.current) setPoll(m.id, m.poll);
    },
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', addButton);
  else addButton();
})();
