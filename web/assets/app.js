/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2025 The sluice authors
 */

/*
 * The dashboard. Plain JS, no build step; uPlot (web/assets/vendor/, vendored
 * by scripts/setup.sh) draws the charts. Two sources, both sluice-ctld's:
 *
 * - GET /v1/views/{view}/stream?from=-1h, an EventSource per view: one
 *   "window" event per complete window, the last hour first, then each window
 *   as soon as it is committed. The newest window of each view fills the
 *   stores table and the top SKUs; every sales window is a point of the sales
 *   chart. The browser reconnects by itself with Last-Event-ID, and the server
 *   then resumes after that window; when the server refuses the stream (404,
 *   503 over --max-sse) the browser gives up and we retry every 5 s. A window
 *   that is not newer than the last one seen is ignored, so a replay never
 *   counts twice.
 * - GET /v1/stats every 1.5 s: the pipeline panel and the events/s chart.
 *   Rates are the counters' deltas over sluiced's own uptime_ns, not over the
 *   browser's clock.
 *
 * Drawing is coalesced into one animation frame, so the replay of an hour of
 * windows draws once. Every number is in an element with a data-testid, or a
 * data-store/data-field pair in the stores table (tests/integration/
 * dashboard.mjs reads them); text from the server only goes into textContent.
 */
'use strict';

const VIEWS = ['footfall', 'sales', 'popular'];
const HISTORY = new URLSearchParams(location.search).get('from') || '-1h';
const STATS_MS = 1500;
const RETRY_MS = 5000;
const RATE_POINTS = 400;        /* 10 minutes of stats polls */
const SALES_POINTS = 360;       /* an hour of 10 s windows */
const TOP_SKUS = 10;

const state = {
	latest: {},                 /* view -> {id, w, rows: Map(store -> row)} */
	windows: {},                /* view -> window events received */
	stores: new Set(),          /* every store seen, so rows do not come and go */
	sales: new Map(),           /* window_start (ns, text) -> [t s, transactions, revenue] */
	rate: [[], [], []],         /* t s, received/s, aggregated/s */
	prev: null,                 /* the previous stats reply */
	salesStep: 10,              /* the sales window, s */
	charts: {},
	dirty: false,
};

/* --- helpers ------------------------------------------------------------------ */

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

function el(tag, attrs, text) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	if (text !== undefined)
		e.textContent = text;
	return e;
}

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtInt = (n) => (n === null || n === undefined ? '–' : nf0.format(n));
const fmt2 = (n) => (n === null || n === undefined ? '–' : nf2.format(n));

function fmtClock(ns) {
	return new Date(Number(BigInt(ns) / 1000000n)).toLocaleTimeString('en-GB', { hour12: false });
}

function fmtDuration(ns) {
	let s = Math.floor(ns / 1e9);
	const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
	s %= 60;
	return (d ? `${d}d ` : '') + (d || h ? `${h}h ` : '') + (d || h || m ? `${m}m ` : '') + `${s}s`;
}

/* A view's value by aggregate name: "count", or "avg" for "avg(amount)"; not the _error keys. */
function agg(values, name) {
	for (const [k, v] of Object.entries(values || {}))
		if ((k === name || k.startsWith(name + '(')) && !k.endsWith('_error'))
			return v;
	return undefined;
}

function aggError(values, name) {
	for (const [k, v] of Object.entries(values || {}))
		if (k.startsWith(name + '(') && k.endsWith('_error'))
			return v;
	return 0;
}

/* The group as one text: the store for the retail views (group_by: [store]). */
const groupKey = (g) => Object.values(g || {}).join('/') || '(all)';

function setBadge(e, cls, text) {
	e.className = 'badge ' + cls;
	e.textContent = text;
}

function showError(msg) {
	byTestId('error').textContent = msg;
}

/* --- streams ------------------------------------------------------------------ */

function openStream(view, query) {
	const badge = byTestId('stream-' + view);
	const es = new EventSource(`/v1/views/${encodeURIComponent(view)}/stream?${query}`);

	es.onopen = () => setBadge(badge, 'ok', view + ': live');
	es.addEventListener('window', (ev) => onWindow(view, ev));
	es.onerror = () => {
		if (es.readyState !== EventSource.CLOSED) {
			setBadge(badge, 'warn', view + ': reconnecting');
			return;
		}
		setBadge(badge, 'bad', view + ': unavailable, retrying');
		const last = state.latest[view];
		setTimeout(() => openStream(view, last ? 'last_event_id=' + last.id : 'from=' + HISTORY),
			RETRY_MS);
	};
}

function onWindow(view, ev) {
	let w;
	try {
		w = JSON.parse(ev.data);
	} catch (e) {
		showError(`${view}: bad window event: ${e.message}`);
		return;
	}
	/* The event id is window_start in ns as text: exact, where JSON numbers are doubles. */
	const id = ev.lastEventId || String(w.window_start);
	const last = state.latest[view];
	if (last && BigInt(id) <= BigInt(last.id))
		return;
	const rows = new Map();
	for (const r of w.rows || []) {
		const store = groupKey(r.group);
		rows.set(store, r);
		state.stores.add(store);
	}
	state.latest[view] = { id, w, rows };
	state.windows[view] = (state.windows[view] || 0) + 1;
	byTestId('stream-' + view).dataset.windows = state.windows[view];
	if (view === 'sales')
		addSalesPoint(id, w);
	scheduleDraw();
}

function addSalesPoint(id, w) {
	let tx = 0, revenue = 0;
	for (const r of w.rows || []) {
		tx += agg(r.values, 'count') || 0;
		revenue += agg(r.values, 'sum') || 0;
	}
	state.sales.set(id, [Number(BigInt(id) / 1000000n) / 1000, tx, revenue]);
	state.salesStep = (w.window_end - w.window_start) / 1e9;
	while (state.sales.size > SALES_POINTS)
		state.sales.delete(state.sales.keys().next().value);
}

/* --- stats -------------------------------------------------------------------- */

async function pollStats() {
	try {
		const r = await fetch('/v1/stats', { cache: 'no-store' });
		const body = await r.json().catch(() => ({}));
		if (!r.ok)
			throw new Error(body.error || `HTTP ${r.status}`);
		drawStats(body);
		setBadge(byTestId('dataplane'), 'ok', 'dataplane: up');
	} catch (e) {
		setBadge(byTestId('dataplane'), 'bad', 'dataplane: ' + e.message);
		state.prev = null;
	} finally {
		setTimeout(pollStats, STATS_MS);
	}
}

function drawStats(s) {
	const p = state.prev;
	/* A restarted sluiced starts its uptime and counters again: no rate across it. */
	if (p && s.uptime_ns > p.uptime_ns && s.received >= p.received) {
		const dt = (s.uptime_ns - p.uptime_ns) / 1e9;
		const rx = (s.received - p.received) / dt, ag = (s.aggregated - p.aggregated) / dt;
		byTestId('events-per-s').textContent = fmtInt(rx);
		state.rate[0].push(Date.now() / 1000);
		state.rate[1].push(rx);
		state.rate[2].push(ag);
		if (state.rate[0].length > RATE_POINTS)
			state.rate.forEach((a) => a.shift());
		state.charts.rate?.setData(state.rate);
	}
	state.prev = s;

	const drops = Object.entries(s.drops || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
	byTestId('received').textContent = fmtInt(s.received);
	byTestId('aggregated').textContent = fmtInt(s.aggregated);
	byTestId('dropped').textContent = fmtInt(drops.reduce((t, [, n]) => t + n, 0));
	byTestId('slices-committed').textContent = fmtInt(s.views_storage?.slices_committed);
	byTestId('uptime').textContent = fmtDuration(s.uptime_ns || 0);
	let polls = 0, empty = 0;
	for (const c of s.cores || []) {
		polls += c.polls || 0;
		empty += c.polls_empty || 0;
	}
	byTestId('poll-efficiency').textContent = polls ? nf1.format(100 * (1 - empty / polls)) + ' %' : '–';

	const ul = byTestId('drops');
	ul.replaceChildren(...drops.map(([reason, n]) =>
		el('li', { 'data-drop': reason }, `${reason}: ${fmtInt(n)}`)));
	if (!drops.length)
		ul.append(el('li', { class: 'muted' }, 'none'));

	byTestId('views').tBodies[0].replaceChildren(...(s.views || []).map((v) => {
		const tr = el('tr', { 'data-view': v.name });
		tr.append(el('td', {}, v.name));
		for (const f of ['matched', 'aggregated', 'late'])
			tr.append(el('td', { 'data-field': f, class: f === 'late' && v.late ? 'num warn' : 'num' },
				fmtInt(v[f])));
		return tr;
	}));
}

/* --- drawing ------------------------------------------------------------------ */

function scheduleDraw() {
	if (state.dirty)
		return;
	state.dirty = true;
	requestAnimationFrame(() => {
		state.dirty = false;
		drawWindows();
	});
}

function cell(store, field, text, cls) {
	return el('td', { 'data-store': store, 'data-field': field, class: cls || 'num' }, text);
}

function drawWindows() {
	for (const view of VIEWS) {
		const l = state.latest[view], e = byTestId('window-' + view);
		if (!l)
			continue;
		e.textContent = `${fmtClock(l.id)}–${fmtClock(BigInt(l.w.window_end))}`;
		e.title = new Date(Number(BigInt(l.id) / 1000000n)).toISOString();
		e.dataset.windowStart = l.id;
		e.dataset.windowEnd = String(l.w.window_end);
	}

	const stores = [...state.stores].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
	const { footfall, sales, popular } = state.latest;
	/* A store without a row in a view's window had no such events in it: count 0. */
	const row = (l, store) => (l ? l.rows.get(store) || { values: { count: 0 } } : null);
	byTestId('stores').tBodies[0].replaceChildren(...stores.map((store) => {
		const tr = el('tr', { 'data-store': store });
		tr.append(el('th', {}, store));

		const f = row(footfall, store);
		tr.append(cell(store, 'footfall.count', fmtInt(f && agg(f.values, 'count'))),
			cell(store, 'footfall.distinct', f ? (aggError(f.values, 'distinct') > 0 ? '~' : '') +
				fmtInt(agg(f.values, 'distinct') ?? 0) : '–'));

		const s = row(sales, store);
		const q = s && agg(s.values, 'quantiles');
		tr.append(cell(store, 'sales.count', fmtInt(s && agg(s.values, 'count'))),
			cell(store, 'sales.sum', fmt2(s && agg(s.values, 'sum'))),
			cell(store, 'sales.avg', fmt2(s && agg(s.values, 'avg'))),
			cell(store, 'sales.p50', fmt2(q && q['0.5'])),
			cell(store, 'sales.p99', fmt2(q && q['0.99'])));

		const p = row(popular, store);
		const top = (p && agg(p.values, 'topk')) || [];
		tr.append(cell(store, 'popular.top',
			p ? top.slice(0, 3).map((t) => `${t.item}:${t.count}`).join(' ') : '–', 'skus'));
		return tr;
	}));

	drawTopSkus();
	if (state.charts.sales) {
		const pts = [...state.sales.values()].sort((a, b) => a[0] - b[0]);
		state.charts.sales.setData([0, 1, 2].map((i) => pts.map((pt) => pt[i])));
	}
}

/* The chain's top SKUs: the stores' top-k counts added up (a lower bound where a
 * SKU fell out of a store's top k). */
function drawTopSkus() {
	const l = state.latest.popular;
	const ol = byTestId('top-skus');
	if (!l)
		return;
	const sum = new Map();
	for (const r of l.rows.values())
		for (const t of agg(r.values, 'topk') || [])
			sum.set(t.item, (sum.get(t.item) || 0) + t.count);
	const top = [...sum].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_SKUS);
	const max = top.length ? top[0][1] : 1;
	ol.replaceChildren(...top.map(([item, n]) => {
		const li = el('li', { 'data-sku': item });
		const bar = el('span', { class: 'bar' });
		bar.style.width = `${(100 * n) / max}%`;
		li.append(el('span', { class: 'item' }, item), el('span', { class: 'num' }, fmtInt(n)), bar);
		return li;
	}));
}

/* --- charts ------------------------------------------------------------------- */

function makeCharts() {
	if (typeof uPlot === 'undefined') {
		for (const id of ['chart-rate', 'chart-sales'])
			document.getElementById(id).textContent = 'uPlot is missing: run scripts/setup.sh';
		return;
	}
	const size = (e) => ({ width: Math.max(e.clientWidth, 200), height: 220 });
	/* Counts and money from 0; bars whole at both ends (half a window of room). */
	const fromZero = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
	const halfWindow = {
		time: true,
		range: (u, min, max) => [min - state.salesStep / 2, max + state.salesStep / 2],
	};
	const rateEl = document.getElementById('chart-rate');
	state.charts.rate = new uPlot({
		...size(rateEl),
		series: [
			{},
			{ label: 'received/s', stroke: '#2f6fd6', width: 2, value: (u, v) => fmtInt(v) },
			{ label: 'aggregated/s', stroke: '#2b9a55', width: 1, value: (u, v) => fmtInt(v) },
		],
		scales: { y: fromZero },
		axes: [{}, { size: 60 }],
	}, state.rate, rateEl);

	const salesEl = document.getElementById('chart-sales');
	state.charts.sales = new uPlot({
		...size(salesEl),
		scales: { x: halfWindow, n: fromZero, money: fromZero },
		series: [
			{},
			{
				label: 'transactions', scale: 'n', stroke: '#7a5cc2', fill: 'rgba(122,92,194,0.3)',
				paths: uPlot.paths.bars({ size: [0.7, 40] }), value: (u, v) => fmtInt(v),
			},
			{ label: 'revenue', scale: 'money', stroke: '#d0792b', width: 2, value: (u, v) => fmt2(v) },
		],
		axes: [{}, { scale: 'n', size: 50 }, { scale: 'money', side: 1, size: 70, grid: { show: false } }],
	}, [[], [], []], salesEl);

	window.addEventListener('resize', () => {
		state.charts.rate.setSize(size(rateEl));
		state.charts.sales.setSize(size(salesEl));
	});
}

makeCharts();
for (const view of VIEWS)
	openStream(view, 'from=' + encodeURIComponent(HISTORY));
pollStats();
