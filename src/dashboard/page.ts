/**
 * The dashboard page: plain HTML, CSS and a script, no build step, no framework. Charts use uPlot,
 * served by the dashboard from the installed package. Kept as strings so the published package
 * carries them without copying files at build time. The script uses no template literals.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tiercache live</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/style.css">
</head>
<body data-samples="0">
<header>
  <h1>tiercache live</h1>
  <span id="connection" class="pill">connecting</span>
  <span class="hint">every layer, sampled each second; the last five minutes</span>
</header>
<p id="charts-missing" hidden>Charts need the uplot package (npm install uplot); the numbers below still update.</p>
<section class="controls">
  <div class="control" id="control-load">
    <h2>Load</h2>
    <label>requests/s <input id="load-rate" type="number" min="1" max="2000" value="200"></label>
    <label>skew <input id="load-skew" type="number" min="0" max="3" step="0.1" value="1"></label>
    <label>seconds <input id="load-duration" type="number" min="1" max="600" value="30"></label>
    <button id="load-start">Run load</button> <button id="load-stop">Stop</button>
    <div id="load-status" class="result">idle</div>
  </div>
  <div class="control" id="control-update">
    <h2>Update a product</h2>
    <label>id <input id="update-id" type="number" min="1" value="1"></label>
    <button id="update-run">Update and trace</button>
    <table id="update-result" class="result"><tr><th>database commit</th><th>L1 dropped</th><th>app read</th><th>edge read</th></tr>
      <tr><td data-layer="database">-</td><td data-layer="l1">-</td><td data-layer="app">-</td><td data-layer="edge">-</td></tr></table>
    <div id="update-status" class="result"></div>
  </div>
  <div class="control" id="control-purge">
    <h2>Purge a tag</h2>
    <label>tag <input id="purge-tag" type="text" value="product:1" maxlength="200"></label>
    <button id="purge-run">Purge at the edge</button>
    <div id="purge-result" class="result"></div>
  </div>
  <div class="control" id="control-faults">
    <h2>Faults</h2>
    <div>database <button id="db-ok">normal</button> <button id="db-slow">slow (+250 ms)</button> <button id="db-fail">failing</button></div>
    <div>origin (app) <button id="origin-up">up</button> <button id="origin-down">stopped</button></div>
    <div>Redis <button id="redis-ok" class="redis-fault">normal</button> <button id="redis-slow" class="redis-fault">slow (150 ms stalls)</button> <button id="redis-stop" class="redis-fault">stopped (hung)</button></div>
    <div id="redis-reason" class="hint" hidden></div>
    <div id="fault-state" class="result">database normal, origin up</div>
  </div>
</section>
<section class="state">
  <h2>Now</h2>
  <dl>
    <dt>edge origin breaker</dt><dd id="state-edge-breaker">-</dd>
    <dt>L2 breaker</dt><dd id="state-l2-breaker">-</dd>
    <dt>L2 failures</dt><dd id="state-l2-failures">-</dd>
    <dt>invalidation bus</dt><dd id="state-bus">-</dd>
    <dt>keys in L1 / edge</dt><dd id="state-keys">-</dd>
    <dt>memory L1 / edge</dt><dd id="state-memory">-</dd>
    <dt>stale served (app / edge)</dt><dd id="state-stale">-</dd>
    <dt>loader errors</dt><dd id="state-loader-errors">-</dd>
    <dt>origin failures</dt><dd id="state-origin-errors">-</dd>
    <dt>invalidations pending</dt><dd id="state-pending">-</dd>
    <dt>capture lag (last / max)</dt><dd id="state-capture-lag">-</dd>
    <dt>outbox depth</dt><dd id="state-outbox">-</dd>
  </dl>
</section>
<section id="layers" class="layers"></section>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/app.js"></script>
</body>
</html>
`

export const STYLE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 16px 16px; color: #1d232a; background: #f6f7f9; }
header { display: flex; align-items: baseline; gap: 12px; }
h1 { font-size: 20px; margin: 12px 0; }
h2 { font-size: 15px; margin: 0 0 6px; }
.hint { color: #667; }
.pill { padding: 1px 8px; border-radius: 9px; background: #ddd; }
.pill.live { background: #2e7d32; color: #fff; }
.controls { display: grid; grid-template-columns: repeat(4, minmax(220px, 1fr)); gap: 10px; }
.control, .state, .layer { background: #fff; border: 1px solid #dde; border-radius: 6px; padding: 10px; }
.control label { display: inline-block; margin: 2px 6px 2px 0; }
.control input { width: 70px; }
#purge-tag { width: 130px; }
.result { margin-top: 6px; color: #334; min-height: 1.4em; }
.result.error { color: #b00020; }
table.result { border-collapse: collapse; font-size: 12px; }
table.result th, table.result td { border: 1px solid #dde; padding: 2px 6px; text-align: right; }
.state { margin-top: 10px; }
.state dl { display: grid; grid-template-columns: repeat(12, auto); gap: 2px 10px; margin: 0; }
.state dt { color: #667; font-size: 12px; grid-row: 1; }
.state dd { margin: 0; font-weight: 600; grid-row: 2; }
.bad { color: #b00020; }
.layers { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px; margin-top: 10px; }
.layer h2 span { font-weight: normal; color: #667; font-size: 12px; }
.numbers { display: flex; gap: 14px; flex-wrap: wrap; font-size: 13px; margin-bottom: 4px; }
.numbers b { font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; }
#redis-reason { font-size: 12px; }
`

export const APP_JS = `'use strict';
(function () {
  var LAYERS = [
    { id: 'edge', title: 'Edge', note: 'RFC 9111 cache in front', second: 'latency' },
    { id: 'l1', title: 'L1', note: 'in the app process', second: 'memory' },
    { id: 'l2', title: 'L2', note: 'Redis', second: 'errors' },
    { id: 'database', title: 'Database', note: 'PostgreSQL, every query', second: 'latency' }
  ];
  var HISTORY = 300;
  var charts = {};
  var data = {};
  var hasCharts = typeof window.uPlot === 'function';
  if (!hasCharts) document.getElementById('charts-missing').hidden = false;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmt(n, digits) {
    if (n === null || n === undefined) return '-';
    return Number(n).toFixed(digits === undefined ? 0 : digits);
  }
  function bytes(n) {
    if (n === null || n === undefined) return '-';
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MiB';
    if (n >= 1024) return (n / 1024).toFixed(1) + ' KiB';
    return n + ' B';
  }
  function pct(n) { return n === null || n === undefined ? '-' : (n * 100).toFixed(1) + '%'; }

  var layersEl = document.getElementById('layers');
  LAYERS.forEach(function (layer) {
    var card = el('div', { class: 'layer', id: 'layer-' + layer.id });
    var h = el('h2', {}, layer.title + ' ');
    h.appendChild(el('span', {}, layer.note));
    card.appendChild(h);
    var numbers = el('div', { class: 'numbers' });
    [['rps', 'req/s'], ['hit', 'hit ratio'], ['p50', 'p50 ms'], ['p99', 'p99 ms'], ['evictions', 'evictions/s'], ['memory', 'memory'], ['errors', 'errors/s']].forEach(function (n) {
      var s = el('span', {}, n[1] + ' ');
      s.appendChild(el('b', { id: layer.id + '-' + n[0] }, '-'));
      numbers.appendChild(s);
    });
    card.appendChild(numbers);
    var chartsEl = el('div', { class: 'charts' });
    var a = el('div', { id: 'chart-' + layer.id + '-traffic' });
    var b = el('div', { id: 'chart-' + layer.id + '-' + layer.second });
    chartsEl.appendChild(a);
    chartsEl.appendChild(b);
    card.appendChild(chartsEl);
    layersEl.appendChild(card);
    data[layer.id] = { t: [], rps: [], hit: [], p50: [], p99: [], memory: [], evictions: [], errors: [] };
    if (!hasCharts) return;
    var width = Math.max(200, Math.floor((layersEl.clientWidth / 2 - 40) / 2));
    var traffic = new window.uPlot({
      width: width, height: 150, legend: { show: true },
      scales: { x: { time: true }, ratio: { range: [0, 100] } },
      series: [{}, { label: 'req/s', stroke: '#1565c0' }, { label: 'hit %', stroke: '#2e7d32', scale: 'ratio' }],
      axes: [{}, { size: 40 }, { side: 1, scale: 'ratio', size: 34, grid: { show: false } }]
    }, [[], [], []], a);
    var second;
    if (layer.second === 'latency') {
      second = new window.uPlot({ width: width, height: 150, scales: { x: { time: true } },
        series: [{}, { label: 'p50 ms', stroke: '#6a1b9a' }, { label: 'p99 ms', stroke: '#c62828' }], axes: [{}, { size: 40 }] }, [[], [], []], b);
    } else if (layer.second === 'memory') {
      second = new window.uPlot({ width: width, height: 150, scales: { x: { time: true } },
        series: [{}, { label: 'MiB', stroke: '#ef6c00' }, { label: 'evictions/s', stroke: '#c62828', scale: 'ev' }],
        axes: [{}, { size: 40 }, { side: 1, scale: 'ev', size: 34, grid: { show: false } }] }, [[], [], []], b);
    } else {
      second = new window.uPlot({ width: width, height: 150, scales: { x: { time: true } },
        series: [{}, { label: 'errors/s', stroke: '#c62828' }], axes: [{}, { size: 40 }] }, [[], []], b);
    }
    charts[layer.id] = { traffic: traffic, second: second, kind: layer.second };
  });

  var captureCard = el('div', { class: 'layer', id: 'layer-capture' });
  var captureTitle = el('h2', {}, 'Change capture ');
  captureTitle.appendChild(el('span', {}, 'commit to published, and the outbox waiting'));
  captureCard.appendChild(captureTitle);
  var captureNumbers = el('div', { class: 'numbers' });
  [['lag', 'lag ms'], ['max-lag', 'max lag ms'], ['depth', 'outbox depth'], ['rps', 'changes/s'], ['published', 'published']].forEach(function (n) {
    var s = el('span', {}, n[1] + ' ');
    s.appendChild(el('b', { id: 'capture-' + n[0] }, '-'));
    captureNumbers.appendChild(s);
  });
  captureCard.appendChild(captureNumbers);
  var captureChartEl = el('div', { id: 'chart-capture-lag' });
  captureCard.appendChild(captureChartEl);
  layersEl.appendChild(captureCard);
  var captureData = { t: [], lag: [], depth: [] };
  var captureChart = null;
  if (hasCharts) {
    captureChart = new window.uPlot({ width: Math.max(200, Math.floor(layersEl.clientWidth / 2 - 40)), height: 150, scales: { x: { time: true } },
      series: [{}, { label: 'lag ms', stroke: '#6a1b9a' }, { label: 'outbox depth', stroke: '#ef6c00', scale: 'depth' }],
      axes: [{}, { size: 40 }, { side: 1, scale: 'depth', size: 34, grid: { show: false } }] }, [[], [], []], captureChartEl);
  }

  function push(sample) {
    var c = sample.capture;
    captureData.t.push(sample.t / 1000);
    captureData.lag.push(c ? c.lagMs : null);
    captureData.depth.push(c ? c.depth : null);
    if (captureData.t.length > HISTORY) for (var k in captureData) captureData[k].shift();
    LAYERS.forEach(function (layer) {
      var p = sample[layer.id];
      var d = data[layer.id];
      d.t.push(sample.t / 1000);
      d.rps.push(p ? p.rps : null);
      d.hit.push(p && p.hitRatio !== null ? p.hitRatio * 100 : null);
      d.p50.push(p ? p.p50 : null);
      d.p99.push(p ? p.p99 : null);
      d.memory.push(p && p.memory !== null ? p.memory / 1048576 : null);
      d.evictions.push(p ? p.evictions : null);
      d.errors.push(p ? p.errors : null);
      if (d.t.length > HISTORY) for (var k in d) d[k].shift();
    });
  }

  function render(sample, status) {
    LAYERS.forEach(function (layer) {
      var p = sample[layer.id];
      var card = document.getElementById('layer-' + layer.id);
      card.classList.toggle('absent', !p);
      if (!p) {
        document.getElementById(layer.id + '-rps').textContent = layer.id === 'l2' ? 'not configured (REDIS_URL)' : '-';
      } else {
        document.getElementById(layer.id + '-rps').textContent = fmt(p.rps);
        document.getElementById(layer.id + '-hit').textContent = pct(p.hitRatio);
        document.getElementById(layer.id + '-p50').textContent = fmt(p.p50, 1);
        document.getElementById(layer.id + '-p99').textContent = fmt(p.p99, 1);
        document.getElementById(layer.id + '-evictions').textContent = fmt(p.evictions);
        document.getElementById(layer.id + '-memory').textContent = bytes(p.memory);
        document.getElementById(layer.id + '-errors').textContent = fmt(p.errors);
      }
      var c = charts[layer.id];
      if (!c) return;
      var d = data[layer.id];
      c.traffic.setData([d.t, d.rps, d.hit]);
      if (c.kind === 'latency') c.second.setData([d.t, d.p50, d.p99]);
      else if (c.kind === 'memory') c.second.setData([d.t, d.memory, d.evictions]);
      else c.second.setData([d.t, d.errors]);
    });
    var c = sample.capture;
    captureCard.classList.toggle('absent', !c);
    if (!c) {
      document.getElementById('capture-lag').textContent = 'not in this process';
    } else {
      document.getElementById('capture-lag').textContent = fmt(c.lagMs);
      document.getElementById('capture-max-lag').textContent = fmt(c.maxLagMs);
      document.getElementById('capture-depth').textContent = String(c.depth);
      document.getElementById('capture-rps').textContent = fmt(c.rps, 1);
      document.getElementById('capture-published').textContent = String(c.published);
    }
    if (captureChart) captureChart.setData([captureData.t, captureData.lag, captureData.depth]);
    var s = sample.state;
    function set(id, text, bad) {
      var e = document.getElementById(id);
      e.textContent = text;
      e.classList.toggle('bad', !!bad);
    }
    set('state-edge-breaker', s.edgeBreaker, s.edgeBreaker !== 'closed');
    set('state-l2-breaker', s.l2Breaker === null ? 'no L2' : s.l2Breaker, s.l2Breaker === 'open');
    set('state-l2-failures', s.l2Failures === null ? 'no L2' : String(s.l2Failures), s.l2Failures > 0);
    set('state-bus', (s.bus.name || 'none') + (s.bus.connected ? ', connected' : ', disconnected'), !s.bus.connected);
    set('state-keys', s.keys.l1 + ' / ' + s.keys.edge);
    set('state-memory', bytes(s.memory.l1) + ' of ' + bytes(s.memory.l1Max) + ' / ' + bytes(s.memory.edge));
    set('state-stale', s.staleServed + ' / ' + s.edgeStale);
    set('state-loader-errors', String(s.loaderErrors), s.loaderErrors > 0);
    set('state-origin-errors', String(s.originErrors), s.originErrors > 0);
    set('state-pending', String(s.pendingInvalidations), s.pendingInvalidations > 0);
    set('state-capture-lag', !c ? 'not in this process' : c.lagMs === null ? 'no change yet' : c.lagMs + ' ms / ' + c.maxLagMs + ' ms');
    set('state-outbox', c ? String(c.depth) : '-', !!c && c.depth > 0);
    showStatus(status);
  }

  function showStatus(status) {
    var l = status.load;
    var text = l.running ? 'running: ' + l.sent + ' sent, ' + l.ok + ' ok, ' + l.failed + ' failed, ' + l.remainingSeconds + ' s left'
      : (l.spec ? 'done: ' + l.sent + ' sent, ' + l.ok + ' ok, ' + l.failed + ' failed' : 'idle');
    if (l.dropped > 0) text += ', ' + l.dropped + ' dropped (stack saturated)';
    var ls = document.getElementById('load-status');
    ls.textContent = text;
    ls.dataset.running = String(l.running);
    showFaults(status.faults);
    var available = status.redisFaults.available;
    var buttons = document.querySelectorAll('.redis-fault');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = !available;
    var reason = document.getElementById('redis-reason');
    reason.hidden = available;
    reason.textContent = available ? '' : status.redisFaults.reason;
  }

  function showFaults(faults) {
    var f = document.getElementById('fault-state');
    var text = 'database ' + ({ ok: 'normal', slow: 'slow', fail: 'failing' })[faults.database] + ', origin ' + faults.origin;
    if (faults.redis !== 'unavailable') text += ', Redis ' + ({ ok: 'normal', slow: 'slow', stopped: 'stopped' })[faults.redis];
    f.textContent = text;
    f.dataset.database = faults.database;
    f.dataset.origin = faults.origin;
    f.dataset.redis = faults.redis;
    return text;
  }

  var samples = 0;
  function connect() {
    var source = new EventSource('/events');
    var conn = document.getElementById('connection');
    source.addEventListener('open', function () { conn.textContent = 'live'; conn.className = 'pill live'; });
    source.addEventListener('error', function () { conn.textContent = 'reconnecting'; conn.className = 'pill'; });
    source.addEventListener('history', function (e) {
      var msg = JSON.parse(e.data);
      LAYERS.forEach(function (layer) { for (var k in data[layer.id]) data[layer.id][k].length = 0; });
      msg.history.forEach(push);
      if (msg.history.length > 0) render(msg.history[msg.history.length - 1], msg.status);
      else showStatus(msg.status);
    });
    source.addEventListener('sample', function (e) {
      var msg = JSON.parse(e.data);
      push(msg.sample);
      render(msg.sample, msg.status);
      samples++;
      document.body.dataset.samples = String(samples);
    });
  }

  function post(path, body) {
    return fetch('/api/' + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok || j.ok === false) throw new Error(j.error || ('HTTP ' + r.status)); return j; }); });
  }
  function num(id) { return Number(document.getElementById(id).value); }
  function report(id, promise, ok) {
    var e = document.getElementById(id);
    e.classList.remove('error');
    e.textContent = 'working...';
    e.dataset.state = 'working';
    return promise.then(function (j) { e.textContent = ok(j); e.dataset.state = 'done'; },
      function (err) { e.textContent = err.message; e.classList.add('error'); e.dataset.state = 'error'; });
  }

  document.getElementById('load-start').addEventListener('click', function () {
    report('load-status', post('load', { rate: num('load-rate'), skew: num('load-skew'), duration: num('load-duration') }),
      function (j) { return 'started: ' + j.load.spec.rate + ' req/s for ' + j.load.spec.duration + ' s'; });
  });
  document.getElementById('load-stop').addEventListener('click', function () {
    report('load-status', post('load/stop', {}), function () { return 'stopped'; });
  });
  document.getElementById('update-run').addEventListener('click', function () {
    var cells = document.querySelectorAll('#update-result td');
    for (var i = 0; i < cells.length; i++) cells[i].textContent = '...';
    report('update-status', post('update', { id: num('update-id') }).catch(function (err) {
      for (var i = 0; i < cells.length; i++) cells[i].textContent = '-';
      throw err;
    }), function (j) {
      var p = j.propagation;
      for (var i = 0; i < cells.length; i++) {
        var v = p[cells[i].dataset.layer];
        cells[i].textContent = v === null ? 'not cached' : v.toFixed(1) + ' ms';
      }
      return 'product ' + p.id + ' is version ' + p.version + ' (price ' + p.price_cents + ') in every layer';
    });
  });
  document.getElementById('purge-run').addEventListener('click', function () {
    report('purge-result', post('purge', { tag: document.getElementById('purge-tag').value }),
      function (j) { return 'purged ' + j.entries + ' entries tagged ' + j.tag; });
  });
  [['db-ok', 'database', 'ok'], ['db-slow', 'database', 'slow'], ['db-fail', 'database', 'fail'], ['origin-up', 'origin', 'up'], ['origin-down', 'origin', 'down'],
    ['redis-ok', 'redis', 'ok'], ['redis-slow', 'redis', 'slow'], ['redis-stop', 'redis', 'stopped']].forEach(function (b) {
    document.getElementById(b[0]).addEventListener('click', function () {
      report('fault-state', post('fault', { target: b[1], mode: b[2] }), function (j) { return showFaults(j.faults); });
    });
  });
  connect();
})();
`
