// The Drape playground: every screen talks to the public REST API (/v1) and the documented
// Socket.IO events, nothing else. Tokens live in sessionStorage, so two tabs can be two people.
import { io } from 'socket.io-client';
import { AvatarStage } from '/playground/avatar.js';

const $ = (sel, root = document) => root.querySelector(sel);
const SLOT_OF = { tops: 'top', bottoms: 'bottom', dresses: 'dress', outerwear: 'outer',
  shoes: 'shoes', bags: 'bag', accessories: 'accessory', activewear: 'top', swimwear: 'top' };
const SLOTS = ['outer', 'top', 'dress', 'bottom', 'shoes', 'bag', 'accessory'];
const OCCASIONS = ['casual', 'work', 'party', 'date', 'sport', 'formal', 'travel', 'outdoor',
  'lounge', 'beach'];
const SLIDER_LABELS = { bust: 'Bust', underbust: 'Underbust', waist: 'Waist', hips: 'Hips',
  shoulder_width: 'Shoulder width', thigh: 'Thigh', upper_arm: 'Upper arm' };

const state = {
  tokens: JSON.parse(sessionStorage.getItem('drape.tokens') || 'null'),
  me: null, socket: null, posts: new Map(), garments: [], notifications: [], lastSeq: 0,
  jobs: new Map(), avatar: null, stage: null, pending: null,
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c);
  }
  return node;
}

function say(text, kind = 'info') {
  const s = $('#status');
  s.textContent = text;
  s.dataset.kind = kind;
}

// ------------------------------------------------------------------------------ REST
class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem.errors || []).map((e) => `${e.field}: ${e.message}`).join('; ');
    super([problem.title || `HTTP ${status}`, problem.detail, fields].filter(Boolean).join(' '));
    this.status = status;
  }
}

async function api(method, path, body, retry = true) {
  const headers = {};
  if (state.tokens) headers.Authorization = `Bearer ${state.tokens.access_token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && retry && state.tokens && path !== '/v1/auth/refresh') {
    if (await refresh()) return api(method, path, body, false);
  }
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

function keep(tokens) {
  state.tokens = tokens && { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
  if (state.tokens) sessionStorage.setItem('drape.tokens', JSON.stringify(state.tokens));
  else sessionStorage.removeItem('drape.tokens');
}

async function refresh() {
  try {
    keep(await api('POST', '/v1/auth/refresh', { refresh_token: state.tokens.refresh_token }, false));
    return true;
  } catch {
    signedOut();
    return false;
  }
}

// Presigned upload: ask for a form, post the bytes to where it says, then confirm the key.
async function uploadImage(path, file) {
  const form = await api('POST', path, { content_type: file.type });
  const body = new FormData();
  for (const [k, v] of Object.entries(form.fields)) body.append(k, v);
  body.append('file', file);
  const r = await fetch(form.url, { method: form.method || 'POST', body });
  if (!r.ok) throw new Error(`upload refused (${r.status})`);
  return api('POST', `${path}/complete`, { key: form.key });
}

// ------------------------------------------------------------------------------ socket
function connect() {
  const socket = io({ auth: { token: state.tokens.access_token }, transports: ['websocket'],
    reconnection: true });
  state.socket = socket;
  const live = $('#live');
  socket.on('connect', () => {
    live.textContent = 'live';
    live.dataset.on = 'true';
    for (const id of state.posts.keys()) socket.emit('subscribe', { post_id: id });
    socket.emit('sync', { after_seq: state.lastSeq }, (ack) => ack?.ok && ack.items.forEach(addNotification));
    if (state.avatar) openSession();
  });
  socket.on('disconnect', () => { live.textContent = 'offline'; live.dataset.on = 'false'; });
  // A refused handshake (an expired token) is not retried by the client: refresh, then retry
  // once; a second refusal in a row leaves the badge on "offline".
  let retried = false;
  socket.on('connect', () => { retried = false; });
  socket.on('connect_error', async () => {
    if (socket.active || retried || !(await refresh())) return;
    retried = true;
    socket.auth = { token: state.tokens.access_token };
    socket.connect();
  });
  socket.on('session:ended', async (data) => {
    if (data.reason === 'token_expired' && (await refresh())) {
      socket.auth = { token: state.tokens.access_token };
      socket.connect();
    } else signedOut();
  });
  socket.on('post:like', (e) => setCount(e.post_id, 'like', e.like_count));
  socket.on('post:comment', (e) => {
    setCount(e.post_id, 'comment', e.comment_count);
    addComment(e.post_id, e.comment);
  });
  socket.on('feed:post', (e) => addPost(e.post, true));
  socket.on('notification', addNotification);
  socket.on('job:update', (job) => {
    const waiter = state.jobs.get(job.id);
    if (waiter && (job.status === 'done' || job.status === 'failed')) waiter(job);
  });
  socket.on('avatar:mesh', (e) => state.stage && e.avatar_id === state.avatar?.id && onMesh(e));
}

function waitJob(job) {
  // The socket says when it ends; polling GET /v1/jobs/{id} covers a missed event.
  return new Promise((resolve) => {
    let done = false;
    const finish = (j) => { if (!done) { done = true; state.jobs.delete(job.id); clearInterval(t); resolve(j); } };
    state.jobs.set(job.id, finish);
    const t = setInterval(async () => {
      const j = await api('GET', `/v1/jobs/${job.id}`).catch(() => null);
      if (j && (j.status === 'done' || j.status === 'failed')) finish(j);
    }, 2000);
  });
}

// ------------------------------------------------------------------------------ screens
function show(tab) {
  for (const b of document.querySelectorAll('#tabs button')) {
    if (b.dataset.tab === tab) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== `screen-${tab}`;
  const load = { feed: loadFeed, wardrobe: loadGarments, outfits: loadOutfits, avatar: loadAvatar,
    recommendations: loadRecommendations, notifications: seeNotifications }[tab];
  load?.().catch((e) => say(e.message, 'error'));
}

async function signedIn(session) {
  keep(session);
  state.me = session.user || (await api('GET', '/v1/me'));
  $('#who-name').textContent = `@${state.me.username}`;
  $('#who').hidden = false;
  $('#tabs').hidden = false;
  state.lastSeq = 0;
  connect();
  await loadNotifications();
  show('feed');
}

function signedOut() {
  if (state.socket) state.socket.disconnect();
  keep(null);
  Object.assign(state, { me: null, socket: null, avatar: null, notifications: [], lastSeq: 0 });
  state.posts.clear();
  $('#who').hidden = true;
  $('#tabs').hidden = true;
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'screen-auth';
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function onSubmit(selector, handler) {
  $(selector).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = $('button[type=submit]', ev.target);
    if (button) button.disabled = true;
    try {
      await handler(ev.target, formData(ev.target));
    } catch (e) {
      say(e.message, 'error');
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// ------------------------------------------------------------------------------ feed
async function loadFeed() {
  const [page, outfits] = await Promise.all([api('GET', '/v1/feed?limit=30'), api('GET', '/v1/outfits?limit=50')]);
  $('#posts').replaceChildren();
  for (const id of state.posts.keys()) state.socket?.emit('unsubscribe', { post_id: id });
  state.posts.clear();
  page.items.forEach((p) => addPost(p));
  $('#post-outfit').replaceChildren(el('option', { value: '' }, 'None'),
    ...outfits.items.map((o) => el('option', { value: o.id }, o.name)));
}

function addPost(post, first = false) {
  if (state.posts.has(post.id)) return;
  const likes = el('span', { class: 'count', 'data-count': 'like' }, String(post.like_count));
  const comments = el('span', { class: 'count', 'data-count': 'comment' }, String(post.comment_count));
  const like = el('button', { type: 'button', class: 'like', 'aria-pressed': String(post.liked_by_me),
    'aria-label': `Like the post by ${post.author.username}` }, '♥ Like');
  const list = el('ul', { class: 'comments', 'aria-label': 'Comments' });
  const input = el('input', { id: `c-${post.id}`, name: 'body', required: true, maxlength: '1000' });
  const form = el('form', { class: 'comment-form' },
    el('label', { for: `c-${post.id}` }, 'Comment'), input, el('button', { type: 'submit' }, 'Send'));
  const item = el('li', { class: 'post', 'data-post-id': post.id },
    el('article', { 'aria-label': `Post by ${post.author.username}` },
      el('header', {}, el('strong', {}, `@${post.author.username}`), ' ',
        el('time', { datetime: post.created_at }, new Date(post.created_at).toLocaleString())),
      post.image_url ? el('img', { src: post.image_url, alt: post.caption || 'Post image' }) : null,
      el('p', { class: 'caption' }, post.caption),
      post.outfit ? el('p', { class: 'outfit' }, `Outfit: ${post.outfit.name}`) : null,
      el('p', { class: 'counts' }, like, ' ', likes, ' likes · ', comments, ' comments'),
      list, form));
  like.addEventListener('click', async () => {
    const liked = like.getAttribute('aria-pressed') === 'true';
    const r = await api(liked ? 'DELETE' : 'PUT', `/v1/posts/${post.id}/like`).catch((e) => say(e.message, 'error'));
    if (r) { like.setAttribute('aria-pressed', String(r.liked)); setCount(post.id, 'like', r.like_count); }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const c = await api('POST', `/v1/posts/${post.id}/comments`, { body: input.value }).catch((e) => say(e.message, 'error'));
    if (c) { input.value = ''; addComment(post.id, c.comment || c); }
  });
  state.posts.set(post.id, item);
  if (first) $('#posts').prepend(item); else $('#posts').append(item);
  state.socket?.emit('subscribe', { post_id: post.id });
  if (post.comment_count) {
    api('GET', `/v1/posts/${post.id}/comments?limit=20`).then((p) => p.items.forEach((c) => addComment(post.id, c))).catch(() => {});
  }
}

function setCount(postId, kind, value) {
  const node = state.posts.get(postId)?.querySelector(`[data-count=${kind}]`);
  if (node) node.textContent = String(value);
}

function addComment(postId, comment) {
  const list = state.posts.get(postId)?.querySelector('.comments');
  if (!list || list.querySelector(`[data-comment-id="${comment.id}"]`)) return;
  list.append(el('li', { 'data-comment-id': comment.id }, el('strong', {}, `@${comment.author.username}`), ' ', comment.body));
}

onSubmit('#post-form', async (form, data) => {
  const body = { caption: data.caption };
  if (data.outfit_id) body.outfit_id = data.outfit_id;
  const post = await api('POST', '/v1/posts', body);
  form.reset();
  addPost(post.post || post, true);
  say('Posted.');
});

onSubmit('#follow-form', async (form, data) => {
  const r = await api('PUT', `/v1/users/${encodeURIComponent(data.username.trim())}/follow`);
  form.reset();
  say(r?.status === 'requested' ? 'Follow request sent.' : `Following @${data.username}.`);
  await loadFeed();
});

// ------------------------------------------------------------------------------ wardrobe
async function loadGarments() {
  const page = await api('GET', '/v1/garments?limit=100');
  state.garments = page.items;
  $('#garments').replaceChildren(...page.items.map(garmentCard));
}

function garmentCard(g) {
  const file = el('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp', id: `f-${g.id}` });
  file.addEventListener('change', async () => {
    if (!file.files[0]) return;
    say(`Uploading ${file.files[0].name}…`);
    try {
      await uploadImage(`/v1/garments/${g.id}/image`, file.files[0]);
      say('Image uploaded.');
      await loadGarments();
    } catch (e) { say(e.message, 'error'); }
  });
  const swatches = g.colors.map((c) => el('span', { class: 'swatch', title: c.family, style: null, 'data-hex': c.hex }));
  const card = el('li', { class: 'garment', 'data-garment-id': g.id },
    g.thumbnail_url || g.image_url
      ? el('img', { src: g.thumbnail_url || g.image_url, alt: g.name })
      : el('div', { class: 'noimage', 'aria-hidden': 'true' }, g.category),
    el('p', {}, el('strong', {}, g.name), el('br'), `${g.category}${g.subcategory ? ' · ' + g.subcategory : ''}`),
    el('p', { class: 'swatches' }, ...swatches, ' ', g.colors.map((c) => c.family).join(', ')),
    el('label', { for: `f-${g.id}` }, 'Photo'), file);
  for (const s of card.querySelectorAll('.swatch')) s.style.background = s.dataset.hex;
  return card;
}

onSubmit('#garment-form', async (form, data) => {
  await api('POST', '/v1/garments', { name: data.name, category: data.category,
    colors: [{ hex: data.color }] });
  form.reset();
  say('Garment added.');
  await loadGarments();
});

// ------------------------------------------------------------------------------ outfits
async function loadOutfits() {
  const [garments, outfits] = await Promise.all([api('GET', '/v1/garments?limit=100'), api('GET', '/v1/outfits?limit=50')]);
  state.garments = garments.items;
  $('#outfit-picker').replaceChildren(...garments.items.map((g) => {
    const slot = el('select', { 'aria-label': `Slot of ${g.name}`, name: `slot-${g.id}` },
      ...SLOTS.map((s) => el('option', { value: s, selected: s === SLOT_OF[g.category] }, s)));
    return el('li', {}, el('label', {}, el('input', { type: 'checkbox', name: `use-${g.id}`, value: g.id }), ` ${g.name} `), slot);
  }));
  if (!garments.items.length) $('#outfit-picker').append(el('li', {}, 'Add garments in the wardrobe first.'));
  $('#outfits').replaceChildren(...outfits.items.map((o) => el('li', { class: 'outfit-card' },
    el('strong', {}, o.name),
    el('ul', {}, ...o.items.map((i) => el('li', {}, `${i.slot}: ${i.garment.name}`))))));
}

onSubmit('#outfit-form', async (form, data) => {
  const items = state.garments.filter((g) => data[`use-${g.id}`])
    .map((g) => ({ garment_id: g.id, slot: data[`slot-${g.id}`] }));
  await api('POST', '/v1/outfits', { name: data.name, items });
  form.reset();
  say('Outfit saved.');
  await loadOutfits();
});

// ------------------------------------------------------------------------------ avatar
async function loadAvatar() {
  let avatar = null;
  try {
    avatar = await api('GET', '/v1/me/avatar');
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  $('#avatar-form').hidden = avatar !== null;
  if (avatar === null) return;
  await showAvatar(avatar);
}

async function showAvatar(avatar) {
  state.avatar = avatar;
  while (state.avatar.status !== 'ready') {
    if (state.avatar.status === 'failed') { say(`The avatar failed: ${state.avatar.error}`, 'error'); return; }
    setRevision(null, 'Building your avatar…');
    await new Promise((r) => setTimeout(r, 1000));
    state.avatar = await api('GET', `/v1/avatars/${avatar.id}`);
  }
  $('#avatar-view').hidden = false;
  if (!state.stage) state.stage = new AvatarStage($('#avatar-canvas'));
  await state.stage.load(state.avatar.mesh_url);
  setRevision(state.avatar.revision);
  await openSession();
}

function setRevision(revision, text) {
  const node = $('#avatar-revision');
  node.dataset.revision = revision === null ? '' : String(revision);
  node.textContent = text || `Revision ${revision}`;
}

function openSession() {
  return new Promise((resolve) => {
    state.socket.emit('avatar:session', { avatar_id: state.avatar.id }, (ack) => {
      if (!ack?.ok) { say(ack?.message || 'The avatar session was refused.', 'error'); resolve(); return; }
      buildSliders(ack);
      resolve();
    });
  });
}

function buildSliders(session) {
  const form = $('#sliders');
  const ranges = session.morph_ranges_cm || session.landmarks?.slider_range_cm || {};
  const values = { ...session.measured, ...session.measurements };
  const rows = Object.keys(SLIDER_LABELS).filter((k) => values[k] !== undefined).map((name) => {
    const range = ranges[name] || 10;
    const base = Math.round(values[name] * 2) / 2;
    const out = el('output', { for: `s-${name}`, id: `o-${name}` }, `${base} cm`);
    const input = el('input', { type: 'range', id: `s-${name}`, name, min: String(base - range),
      max: String(base + range), step: '0.5', value: String(base), 'aria-describedby': `o-${name}` });
    input.addEventListener('input', () => { out.textContent = `${input.value} cm`; queueSet(name, Number(input.value)); });
    return el('div', { class: 'slider' }, el('label', { for: `s-${name}` }, SLIDER_LABELS[name]), input, out);
  });
  form.replaceChildren(el('h3', { id: 'sliders-title' }, 'Live measurements'), ...rows);
}

// Moves within one animation frame are sent as one avatar:set; the server coalesces the rest.
function queueSet(name, value) {
  const first = state.pending === null;
  state.pending = { ...(state.pending || {}), [name]: value };
  if (!first) return;
  requestAnimationFrame(() => {
    const measurements = state.pending;
    state.pending = null;
    state.socket.emit('avatar:set', { avatar_id: state.avatar.id, measurements }, (ack) => {
      if (!ack?.ok) say(ack?.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') || ack?.message, 'error');
    });
  });
}

async function onMesh(event) {
  if (event.errors) { say(event.errors.map((e) => `${e.field}: ${e.message}`).join('; '), 'error'); return; }
  if (Number($('#avatar-revision').dataset.revision || -1) > event.revision) return;
  if (event.mesh_url) await state.stage.load(event.mesh_url);
  else if (event.morph_weights) state.stage.morph(event.morph_weights);
  const waist = event.measured?.waist;
  setRevision(event.revision, `Revision ${event.revision}${event.mesh_url ? ' (full mesh)' : ''}`
    + (waist ? ` · waist ${waist.toFixed(1)} cm` : ''));
}

onSubmit('#avatar-form', async (form, data) => {
  const measurements = {};
  for (const k of ['height', 'bust', 'waist', 'hips', 'inseam']) measurements[k] = Number(data[k]);
  const r = await api('POST', '/v1/avatars', { measurements,
    customization: { body_shape: data.body_shape, skin_tone: data.skin_tone } });
  form.hidden = true;
  say('Building your avatar…');
  await showAvatar(r.avatar);
  say('Your avatar is ready: move a slider.');
});

// ------------------------------------------------------------------------------ recommendations
async function loadRecommendations() {
  const [list, garments] = await Promise.all([api('GET', '/v1/recommendations'), api('GET', '/v1/garments?limit=100')]);
  const names = Object.fromEntries(garments.items.map((g) => [g.id, g.name]));
  $('#recs').replaceChildren(...list.items.map((rec) => el('li', { class: 'rec' },
    el('p', {}, el('strong', {}, `#${rec.rank}`), ` score ${rec.score.toFixed(2)}${rec.occasion ? ' · ' + rec.occasion : ''}`),
    el('ul', {}, ...rec.items.map((i) => el('li', {}, `${i.slot ? i.slot + ': ' : ''}${names[i.garment_id] || i.name || i.garment_id}`))),
    el('p', { class: 'explanation' }, rec.explanation))));
  if (!list.items.length) $('#recs').append(el('li', {}, 'No recommendations yet: ask for some.'));
}

onSubmit('#rec-form', async (form, data) => {
  const body = {};
  if (data.occasion) body.occasion = data.occasion;
  if (data.temperature_c !== '') body.weather = { temperature_c: Number(data.temperature_c) };
  const r = await api('POST', '/v1/recommendations', body);
  say('Thinking…');
  const job = await waitJob(r.job);
  say(job.status === 'done' ? 'Here are your outfits.' : `That failed: ${job.error || job.status}`, job.status === 'done' ? 'info' : 'error');
  await loadRecommendations();
});

// ------------------------------------------------------------------------------ notifications
// There is no unread counter on the server: what this browser has not shown yet is unread,
// counted from each notification's per-user seq.
const seenKey = () => `drape.seen.${state.me.id}`;

async function loadNotifications() {
  const page = await api('GET', '/v1/notifications?after_seq=0&limit=100');
  page.items.forEach(addNotification);
}

function describe(n) {
  const who = n.actor ? `@${n.actor.username}` : 'Someone';
  return { like: `${who} liked your post`, comment: `${who} commented on your post`,
    follow: `${who} followed you`, follow_request: `${who} asked to follow you`,
    follow_accepted: `${who} accepted your follow request` }[n.type] || `${who}: ${n.type}`;
}

function addNotification(n) {
  if (state.notifications.some((m) => m.seq === n.seq)) return;
  state.notifications.push(n);
  state.notifications.sort((a, b) => b.seq - a.seq);
  state.lastSeq = Math.max(state.lastSeq, n.seq);
  $('#notifications').replaceChildren(...state.notifications.map((m) => el('li', { 'data-seq': String(m.seq),
    class: m.seq > seen() ? 'unread' : null }, describe(m), ' ',
    el('time', { datetime: m.created_at }, new Date(m.created_at).toLocaleTimeString()))));
  if (!$('#screen-notifications').hidden) markSeen(); else badge();
}

const seen = () => Number(localStorage.getItem(seenKey()) || 0);

function badge() {
  const unread = state.notifications.filter((n) => n.seq > seen()).length;
  const b = $('#unread');
  b.hidden = unread === 0;
  b.textContent = String(unread);
  b.setAttribute('aria-label', `${unread} unread`);
}

function markSeen() {
  localStorage.setItem(seenKey(), String(state.lastSeq));
  badge();
}

async function seeNotifications() {
  markSeen();
}

// ------------------------------------------------------------------------------ start
onSubmit('#login-form', async (form, data) => {
  await signedIn(await api('POST', '/v1/auth/login', { login: data.login, password: data.password }));
});
onSubmit('#register-form', async (form, data) => {
  await signedIn(await api('POST', '/v1/auth/register', data));
});
$('#sign-out').addEventListener('click', async () => {
  await api('POST', '/v1/auth/logout', { refresh_token: state.tokens?.refresh_token }).catch(() => {});
  signedOut();
});
for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => show(b.dataset.tab));
// Arrow keys move along the tab bar, as in any toolbar.
$('#tabs').addEventListener('keydown', (ev) => {
  const buttons = [...document.querySelectorAll('#tabs button')];
  const i = buttons.indexOf(document.activeElement);
  if (i < 0 || !['ArrowLeft', 'ArrowRight'].includes(ev.key)) return;
  buttons[(i + (ev.key === 'ArrowRight' ? 1 : buttons.length - 1)) % buttons.length].focus();
});
$('#rec-occasion').append(...OCCASIONS.map((o) => el('option', { value: o }, o)));

if (state.tokens) {
  api('GET', '/v1/me').then((me) => signedIn({ ...state.tokens, user: me })).catch(() => signedOut());
} else {
  signedOut();
}
document.body.dataset.ready = 'true';
