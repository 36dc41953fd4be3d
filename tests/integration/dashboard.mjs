// SPDX-License-Identifier: BSD-3-Clause
// Copyright (c) 2025 The sluice authors
//
// The dashboard in headless chromium (playwright-core, tests/node_modules/, from
// scripts/setup.sh; Debian's chromium, never a downloaded one), against a
// sluice-ctld whose sluiced is receiving paced events. Run by dashboard_test.sh:
//
//   node dashboard.mjs URL SCREENSHOT EVENTS_PER_S
//
// 1. Notes the newest stored window of each view, then opens the page and waits
//    until each view's table header shows a newer window: one that came over the
//    stream (the page's only source of windows) and was drawn.
// 2. Reads every cell of the stores table, the window each view shows and the
//    pipeline panel in one evaluate (one consistent snapshot), and checks them
//    against GET /v1/views/VIEW?from=S&to=S+1ns (the same window) and two
//    GET /v1/stats taken around the snapshot.
// 3. Saves a screenshot. Prints "dashboard: ok ..." or "FAIL: ..." (exit 1).
import { chromium } from 'playwright-core';

const [url, shot, rateArg] = process.argv.slice(2);
const rate = Number(rateArg);
const VIEWS = ['footfall', 'sales', 'popular'];
const errors = [];
const fail = (msg) => errors.push(msg);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function get(path) {
	const r = await fetch(url + path);
	const text = await r.text();
	if (!r.ok)
		throw new Error(`GET ${path}: ${r.status} ${text}`);
	return text;
}

// Window starts as exact texts: JSON numbers are doubles, window starts are ns.
const starts = (text) => [...text.matchAll(/"window_start":(\d+)/g)].map((m) => BigInt(m[1]));
const maxStart = (text) => starts(text).reduce((a, b) => (b > a ? b : a), 0n);

// A shown number: '–' is null, '~' marks an estimate, ',' groups thousands.
const num = (text) => (text === '–' ? null : Number(text.replace(/[,~ %]/g, '')));

// The value of aggregate NAME (count, sum, avg, ...) in a row's values.
function agg(values, name) {
	for (const [k, v] of Object.entries(values))
		if ((k === name || k.startsWith(name + '(')) && !k.endsWith('_error'))
			return v;
	return undefined;
}

function near(what, shown, want, tol) {
	if (want === null || want === undefined) {
		if (shown !== null)
			fail(`${what}: shows ${shown}, the API has no value`);
	} else if (shown === null || Math.abs(shown - want) > tol) {
		fail(`${what}: shows ${shown}, the API has ${want}`);
	}
}

// --- 1. a new window of every view, over the stream ------------------------------
const before = {};
for (const v of VIEWS)
	before[v] = String(maxStart(await get(`/v1/views/${v}?from=-1h`)));

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	args: process.getuid() === 0 ? ['--no-sandbox'] : [],
});
let snap, statsA, statsB, chartPoints;
try {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	page.on('pageerror', (e) => fail(`page error: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error')
			fail(`console error: ${m.text()} (${m.location().url})`);
	});
	page.on('requestfailed', (r) => {
		// EventSources are cut when the browser closes: only other requests count.
		if (!r.url().includes('/stream'))
			fail(`request failed: ${r.url()}: ${r.failure()?.errorText}`);
	});
	const resp = await page.goto(url + '/');
	if (!resp.ok())
		throw new Error(`GET /: ${resp.status()}`);

	await page.waitForFunction((before) => Object.entries(before).every(([v, s]) => {
		const e = document.querySelector(`[data-testid="window-${v}"]`);
		return e?.dataset.windowStart && BigInt(e.dataset.windowStart) > BigInt(s);
	}), before, { timeout: 60000, polling: 200 });
	// Two stats polls give a rate.
	await page.waitForFunction(() =>
		document.querySelector('[data-testid="events-per-s"]').textContent !== '–',
	null, { timeout: 15000 });

	// --- 2. one snapshot, between two stats replies -------------------------------
	statsA = JSON.parse(await get('/v1/stats'));
	await sleep(3500);  // more than two of the page's 1.5 s polls
	snap = await page.evaluate(() => {
		const text = (id) => document.querySelector(`[data-testid="${id}"]`).textContent;
		const s = { windows: {}, cells: {}, health: {}, drops: {}, late: {} };
		for (const v of ['footfall', 'sales', 'popular'])
			s.windows[v] = document.querySelector(`[data-testid="window-${v}"]`).dataset.windowStart;
		for (const td of document.querySelectorAll('td[data-store][data-field]'))
			(s.cells[td.dataset.store] ||= {})[td.dataset.field] = td.textContent;
		for (const id of ['events-per-s', 'received', 'aggregated', 'dropped'])
			s.health[id] = text(id);
		for (const li of document.querySelectorAll('[data-testid="drops"] li[data-drop]'))
			s.drops[li.dataset.drop] = li.textContent.split(': ')[1];
		for (const tr of document.querySelectorAll('[data-testid="views"] tr[data-view]'))
			s.late[tr.dataset.view] = tr.querySelector('[data-field="late"]').textContent;
		s.streamed = Object.fromEntries(['footfall', 'sales', 'popular'].map((v) =>
			[v, document.querySelector(`[data-testid="stream-${v}"]`).dataset.windows]));
		s.topSkus = document.querySelectorAll('[data-testid="top-skus"] li').length;
		return s;
	});
	statsB = JSON.parse(await get('/v1/stats'));
	chartPoints = await page.evaluate(() => ({
		rate: document.querySelectorAll('#chart-rate canvas').length ? state.charts.rate.data[0].length : 0,
		sales: document.querySelectorAll('#chart-sales canvas').length ? state.charts.sales.data[0].length : 0,
	}));
	await page.screenshot({ path: shot, fullPage: true });
} finally {
	await browser.close();
}

// --- the stores table against the same windows from the API ----------------------
let checked = 0;
const stores = Object.keys(snap.cells);
if (stores.length === 0)
	fail('the stores table is empty');
for (const v of VIEWS) {
	const s = BigInt(snap.windows[v]);
	const rows = JSON.parse(await get(`/v1/views/${v}?from=${s}&to=${s + 1n}`));
	if (rows.length === 0)
		fail(`${v}: the API has no rows for the window ${s} the page shows`);
	const byStore = new Map(rows.map((r) => [Object.values(r.group).join('/') || '(all)', r]));
	for (const store of byStore.keys())
		if (!snap.cells[store])
			fail(`${v}: store ${store} of window ${s} is not in the table`);
	for (const store of stores) {
		const c = snap.cells[store], r = byStore.get(store);
		// A store without a row had no such events in the window: count 0, no values.
		const values = r ? r.values : { count: 0 };
		const what = (f) => `${v} ${store} ${f} (window ${s})`;
		if (v === 'footfall') {
			near(what('count'), num(c['footfall.count']), agg(values, 'count'), 0);
			near(what('distinct'), num(c['footfall.distinct']), agg(values, 'distinct') ?? 0, 0);
			checked += 2;
		} else if (v === 'sales') {
			const q = agg(values, 'quantiles');
			near(what('count'), num(c['sales.count']), agg(values, 'count'), 0);
			// Shown with 2 decimals.
			near(what('sum'), num(c['sales.sum']), agg(values, 'sum'), 0.0051);
			near(what('avg'), num(c['sales.avg']), agg(values, 'avg'), 0.0051);
			near(what('p50'), num(c['sales.p50']), q ? q['0.5'] : null, 0.0051);
			near(what('p99'), num(c['sales.p99']), q ? q['0.99'] : null, 0.0051);
			checked += 5;
		} else {
			const want = (agg(values, 'topk') || []).slice(0, 3).map((t) => `${t.item}:${t.count}`).join(' ');
			if (c['popular.top'] !== want)
				fail(`${what('top')}: shows '${c['popular.top']}', the API has '${want}'`);
			checked += 1;
		}
	}
}

// --- the pipeline panel: each counter between the replies before and after --------
function between(what, shown, a, b) {
	if (shown === null || shown < a || shown > b)
		fail(`${what}: shows ${shown}, /v1/stats had ${a} before and ${b} after`);
}
between('received', num(snap.health.received), statsA.received, statsB.received);
between('aggregated', num(snap.health.aggregated), statsA.aggregated, statsB.aggregated);
if (statsA.received === statsB.received)
	fail('no events arrived during the snapshot: the pipeline is not live');
const eps = num(snap.health['events-per-s']);
if (!(eps > rate / 4 && eps < rate * 4))
	fail(`events/s shows ${eps}, the generator sends ${rate}`);
for (const [reason, n] of Object.entries(statsB.drops))
	if (statsA.drops[reason] > 0 && snap.drops[reason] === undefined)
		fail(`drop reason ${reason} (${statsA.drops[reason]}) is not shown`);
for (const [reason, text] of Object.entries(snap.drops))
	between(`drops ${reason}`, num(text), statsA.drops[reason], statsB.drops[reason]);
for (const v of statsB.views) {
	const a = statsA.views.find((x) => x.name === v.name);
	between(`late ${v.name}`, num(snap.late[v.name] ?? '–'), a.late, v.late);
}
for (const v of VIEWS)
	if (!(Number(snap.streamed[v]) >= 1))
		fail(`${v}: no window event counted`);
if (snap.topSkus === 0)
	fail('the top SKUs list is empty');
if (chartPoints.rate < 1 || chartPoints.sales < 1)
	fail(`charts: ${chartPoints.rate} events/s points, ${chartPoints.sales} sales windows`);

if (errors.length) {
	console.log(errors.slice(0, 30).map((e) => 'FAIL: ' + e).join('\n'));
	console.log(`dashboard: FAILED (${errors.length} problems); screenshot ${shot}`);
	process.exit(1);
}
console.log(`dashboard: ok: windows ${VIEWS.map((v) => `${v}@${snap.windows[v]}`).join(' ')} ` +
	`came over the stream; ${checked} table cells of ${stores.length} stores equal the API; ` +
	`pipeline panel within /v1/stats (${snap.health['events-per-s']} events/s); ` +
	`${chartPoints.sales} sales windows charted; screenshot ${shot}`);
