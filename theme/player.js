// Under Load: the step-through player for recorded scenes (lab-07).
//
// Markup contract: theme/README.md, "4. Scene player". The trace format is
// lab-07's (labs/lab-07/src/trace.rs): lanes, steps in order, each step
// with the whole side panel (`state`) after it, so any step can be shown
// without replaying the ones before it. No libraries, no network: the
// trace is inline in the page, or a local file the reader picks.
(function underLoadPlayer() {
    'use strict';

    const FORMAT = 'under-load-trace/1';
    const SVG_NS = 'http://www.w3.org/2000/svg';
    const RECORD = 'cargo run -p lab-07 -- record SCENE --out my-trace.json';
    // Geometry of the lane view, in CSS pixels. The lane names beside the
    // drawing use the same row height, so both stay aligned.
    const ROW = 30;
    const TOP = 20;
    const MIN_COL = 12;
    const MAX_COL = 44;
    const RADIUS = 5;
    const HEAD = 7; // arrowhead size
    const COLOURS = 8; // --ul-s0 … --ul-s7
    // One step per BASE_MS at 1×.
    const BASE_MS = 700;
    const SPEEDS = [0.5, 1, 2, 4];
    // Kinds drawn hollow: the lane is waiting, not working.
    // Kinds drawn as a wait. A Map, so a loaded file's `constructor` or
    // `__proto__` kind is just an unknown kind.
    const WAITS = new Map([['lock-wait', true]]);

    let players = 0;

    // ------------------------------------------------------------ helpers

    function el(tag, attrs, children) {
        const node = document.createElement(tag);
        setAttrs(node, attrs);
        (children || []).forEach(function(c) {
            node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
        });
        return node;
    }

    function svg(tag, attrs) {
        const node = document.createElementNS(SVG_NS, tag);
        setAttrs(node, attrs);
        return node;
    }

    function setAttrs(node, attrs) {
        Object.keys(attrs || {}).forEach(function(k) {
            node.setAttribute(k, String(attrs[k]));
        });
    }

    // 1234 → "1.23 µs": enough digits to tell neighbouring steps apart.
    function fmtTime(ns) {
        const units = [[1e9, 's'], [1e6, 'ms'], [1e3, '\u00b5s']];
        for (let i = 0; i < units.length; i++) {
            if (ns >= units[i][0]) {
                const v = ns / units[i][0];
                return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0) + '\u00a0' + units[i][1];
            }
        }
        return ns + '\u00a0ns';
    }

    function isInt(v) {
        return typeof v === 'number' && Math.floor(v) === v && v >= 0;
    }

    // Why `t` is not a trace the player can show (null when it is). The
    // checks are lab-07's `Trace::validate`, plus the shapes JSON allows.
    function invalid(t) {
        if (t === null || typeof t !== 'object' || Array.isArray(t)) {
            return Array.isArray(t) && t.length && t[0] && 'ph' in t[0]
                ? chromeHint()
                : 'the file is JSON but not an object';
        }
        if ('traceEvents' in t) {
            return chromeHint();
        }
        if (t.format !== FORMAT) {
            return t.format === undefined
                ? 'it has no "format" field (expected "' + FORMAT + '")'
                : 'its format is ' + JSON.stringify(t.format) + ', expected "' + FORMAT + '"';
        }
        if (typeof t.scene !== 'string' || !t.scene) {
            return 'it has no scene name';
        }
        if (!Array.isArray(t.lanes) || !t.lanes.length) {
            return 'it has no lanes';
        }
        for (let i = 0; i < t.lanes.length; i++) {
            if (!t.lanes[i] || typeof t.lanes[i].name !== 'string') {
                return 'lane ' + i + ' has no name';
            }
        }
        if (!Array.isArray(t.steps) || !t.steps.length) {
            return 'it has no steps';
        }
        let prev = 0;
        for (let i = 0; i < t.steps.length; i++) {
            const s = t.steps[i];
            const at = 'step ' + i + ' ';
            if (!s || typeof s !== 'object') {
                return at + 'is not an object';
            }
            if (!isInt(s.lane) || s.lane >= t.lanes.length) {
                return at + 'is on lane ' + JSON.stringify(s.lane) + ', but there are ' +
                    t.lanes.length + ' lanes';
            }
            if (typeof s.t_ns !== 'number' || s.t_ns < prev) {
                return at + 'is at ' + JSON.stringify(s.t_ns) + ' ns, before the step ahead of it (' +
                    prev + ' ns)';
            }
            prev = s.t_ns;
            if (typeof s.kind !== 'string' || typeof s.label !== 'string') {
                return at + 'needs a "kind" and a "label"';
            }
            if (s.cause !== null && s.cause !== undefined && !(isInt(s.cause) && s.cause < i)) {
                return at + 'names ' + JSON.stringify(s.cause) + ' as its cause, which is not an earlier step';
            }
            if (!s.state || typeof s.state !== 'object' || Array.isArray(s.state)) {
                return at + 'has no "state" (the side panel after it)';
            }
            const names = Object.keys(s.state);
            for (let k = 0; k < names.length; k++) {
                const lines = s.state[names[k]];
                if (!Array.isArray(lines) || !lines.every(function(l) { return typeof l === 'string'; })) {
                    return at + 'has section ' + JSON.stringify(names[k]) + ' that is not a list of lines';
                }
            }
        }
        return null;
    }

    function chromeHint() {
        return 'it is a Chrome trace-event file (for Perfetto or chrome://tracing). ' +
            'The player reads the compact trace that ' + RECORD + ' writes';
    }

    function readFile(file) {
        return new Promise(function(resolve, reject) {
            const reader = new FileReader();
            reader.onload = function() { resolve(String(reader.result)); };
            reader.onerror = function() { reject(reader.error); };
            reader.readAsText(file);
        });
    }

    // Icons drawn in SVG rather than glyphs, which not every font has.
    const ICONS = {
        start: 'M3 2h2v12H3zM14 2v12L6 8z',
        back: 'M12 2v12L4 8z',
        play: 'M4 2v12l10-6z',
        pause: 'M3 2h4v12H3zM9 2h4v12H9z',
        next: 'M4 2v12l8-6z',
        end: 'M11 2h2v12h-2zM2 2v12l8-6z',
    };

    function icon(name) {
        const s = svg('svg', { viewBox: '0 0 16 16', width: 16, height: 16, 'aria-hidden': 'true', focusable: 'false' });
        s.appendChild(svg('path', { d: ICONS[name] }));
        return s;
    }

    // ------------------------------------------------------------- player

    function Player(figure, trace) {
        players += 1;
        this.id = 'ul-player-' + players;
        this.figure = figure;
        this.bookTrace = trace;
        this.index = 0;
        this.timer = null;
        this.speed = 1;
        this.build();
        this.show(trace, null);
    }

    Player.prototype.build = function() {
        const self = this;
        const caption = this.figure.querySelector('figcaption');
        const name = caption ? caption.textContent.trim() : this.figure.getAttribute('data-scene');

        function button(action, label) {
            const b = el('button', { type: 'button', class: 'ul-player-btn', 'data-action': action,
                'aria-label': label, title: label }, [icon(action)]);
            b.addEventListener('click', function() { self.act(action); });
            return b;
        }
        this.playButton = button('play', 'Play');
        this.scrubber = el('input', { type: 'range', class: 'ul-player-scrubber', min: 0, max: 0,
            step: 1, value: 0, 'aria-label': 'Step' });
        this.scrubber.addEventListener('input', function() {
            self.pause();
            self.go(Number(self.scrubber.value));
        });
        this.count = el('span', { class: 'ul-player-count', 'aria-hidden': 'true' });
        const speed = el('select', { class: 'ul-player-speed', 'aria-label': 'Playback speed' },
            SPEEDS.map(function(s) {
                return el('option', s === 1 ? { value: s, selected: '' } : { value: s }, [s + '\u00d7']);
            }));
        speed.addEventListener('change', function() {
            self.speed = Number(speed.value) || 1;
            if (self.timer) {
                self.pause();
                self.play();
            }
        });
        const controls = el('div', { class: 'ul-player-controls' }, [
            button('start', 'To the start (Home)'),
            button('back', 'Step back (\u2190)'),
            this.playButton,
            button('next', 'Step forward (\u2192)'),
            button('end', 'To the end (End)'),
            this.scrubber,
            this.count,
            speed,
        ]);

        this.names = el('div', { class: 'ul-player-names', 'aria-hidden': 'true' });
        this.scroll = el('div', { class: 'ul-player-scroll' });
        const view = el('div', { class: 'ul-player-view' }, [this.names, this.scroll]);
        this.scroll.addEventListener('click', function(e) {
            const mark = e.target.closest ? e.target.closest('[data-i]') : null;
            if (mark) {
                self.pause();
                self.go(Number(mark.getAttribute('data-i')));
            }
        });

        this.stepLine = el('p', { class: 'ul-player-step', 'aria-live': 'polite', 'aria-atomic': 'true' });
        this.state = el('div', { class: 'ul-player-state' });
        const panel = el('div', { class: 'ul-player-panel' }, [this.stepLine, this.state]);

        this.file = el('input', { type: 'file', class: 'ul-player-file', accept: '.json,application/json' });
        this.file.addEventListener('change', function() { self.loadFile(); });
        this.back = el('button', { type: 'button', class: 'ul-player-reset', hidden: '' },
            ['Back to the book\u2019s trace']);
        this.back.addEventListener('click', function() {
            self.error('');
            self.show(self.bookTrace, null);
            // The button hides itself: keep the keyboard in the player, not
            // on the page, where the arrows would turn the chapter.
            self.root.focus();
        });
        this.source = el('p', { class: 'ul-player-source' });
        this.errorBox = el('p', { class: 'ul-player-error', role: 'alert', hidden: '' });
        const load = el('div', { class: 'ul-player-load' }, [
            el('label', { class: 'ul-player-file-label' }, ['Load a trace\u2026 ', this.file]),
            this.back,
            this.source,
            this.errorBox,
        ]);

        const help = el('p', { class: 'ul-player-help', id: this.id + '-keys' },
            ['Keys: \u2190 \u2192 step, Space play/pause, Home/End. Click a mark to jump to it.']);
        this.root = el('div', { class: 'ul-player', id: this.id, role: 'group', tabindex: 0,
            'aria-label': 'Step-through player: ' + name,
            'aria-keyshortcuts': 'ArrowLeft ArrowRight Space Home End',
            'aria-describedby': this.id + '-keys' },
        [controls, view, panel, load, help]);
        this.root.addEventListener('keydown', function(e) { self.key(e); });

        this.figure.insertBefore(this.root, caption ? caption.nextSibling : this.figure.firstChild);
    };

    // Replaces the trace on show; `fileName` is null for the book's own.
    Player.prototype.show = function(trace, fileName) {
        this.pause();
        this.trace = trace;
        const f = this.figure;
        f.setAttribute('data-trace-scene', trace.scene);
        f.setAttribute('data-steps', String(trace.steps.length));
        f.setAttribute('data-source', fileName === null ? 'page' : 'file');
        this.scrubber.max = String(trace.steps.length - 1);
        this.back.hidden = fileName === null;
        const clock = trace.clock === 'paused'
            ? 'paused clock: virtual time, the same order on every recording'
            : trace.clock === 'real'
                ? 'real clock: times and interleaving vary between recordings'
                : 'clock ' + JSON.stringify(trace.clock);
        const what = trace.lanes.length + ' lanes, ' + trace.steps.length + ' steps, ' + clock;
        this.source.textContent = '';
        if (fileName === null) {
            this.source.appendChild(document.createTextNode('Showing the book\u2019s recording (' + what +
                '). Record your own with '));
            this.source.appendChild(el('code', {}, [RECORD.replace('SCENE', trace.scene)]));
            this.source.appendChild(document.createTextNode(' and load it here.'));
        } else {
            this.source.appendChild(document.createTextNode('Showing your trace from '));
            this.source.appendChild(el('strong', { class: 'ul-player-file-name' }, [fileName]));
            this.source.appendChild(document.createTextNode(': \u201c' + (trace.title || trace.scene) +
                '\u201d, scene ' + trace.scene + ' (' + what + ').'));
        }
        this.draw();
        this.index = -1;
        this.go(0);
    };

    Player.prototype.draw = function() {
        const t = this.trace;
        const n = t.steps.length;
        const lanes = t.lanes.length;
        this.names.textContent = '';
        this.names.style.paddingTop = TOP + 'px';
        t.lanes.forEach(function(lane, i) {
            const row = el('div', { class: 'ul-player-name ul-lane-' + (i % COLOURS),
                title: lane.name + (lane.kind ? ' (' + lane.kind + ')' : '') }, [lane.name]);
            row.style.height = ROW + 'px';
            row.style.lineHeight = ROW + 'px';
            this.names.appendChild(row);
        }, this);

        // Columns are evenly spaced: the order of steps matters more than
        // their time (the step line says the time).
        this.drawnFor = this.scroll.clientWidth;
        const room = Math.max(this.drawnFor - 8, 200);
        const col = Math.max(MIN_COL, Math.min(MAX_COL, room / n));
        const width = Math.ceil(col * n) + 4;
        const height = TOP + ROW * lanes;
        const x = function(i) { return col * (i + 0.5); };
        const y = function(lane) { return TOP + ROW * (lane + 0.5); };
        this.col = col;
        this.x = x;
        this.y = y;

        const root = svg('svg', { class: 'ul-player-lanes', width: width, height: height,
            viewBox: '0 0 ' + width + ' ' + height, role: 'img',
            'aria-label': lanes + ' lanes, ' + n + ' steps; the panel below describes the current step' });
        const arrow = this.id + '-arrow';
        const defs = svg('defs');
        [['', 'ul-player-head'], ['-hot', 'ul-player-head ul-player-head-hot']].forEach(function(m) {
            // The tip stops at the edge of the mark it points to.
            const marker = svg('marker', { id: arrow + m[0], viewBox: '0 0 10 10',
                refX: 10 + (RADIUS + 1.5) * 10 / HEAD, refY: 5, markerWidth: HEAD, markerHeight: HEAD, orient: 'auto', markerUnits: 'userSpaceOnUse' });
            marker.appendChild(svg('path', { d: 'M0 0L10 5L0 10z', class: m[1] }));
            defs.appendChild(marker);
        });
        root.appendChild(defs);

        const rows = svg('g', { class: 'ul-player-rows' });
        for (let l = 0; l < lanes; l++) {
            rows.appendChild(svg('rect', { class: 'ul-player-row' + (l % 2 ? ' ul-player-row-odd' : ''),
                x: 0, y: TOP + ROW * l, width: width, height: ROW }));
            rows.appendChild(svg('line', { class: 'ul-player-rail', x1: 0, x2: width, y1: y(l), y2: y(l) }));
        }
        root.appendChild(rows);

        // Step numbers every `every` steps, at least ~36 px apart.
        const every = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter(function(k) {
            return k * col >= 36;
        })[0] || 1000;
        const ticks = svg('g', { class: 'ul-player-ticks', 'aria-hidden': 'true' });
        for (let i = 0; i < n; i += every) {
            const text = svg('text', { x: x(i), y: TOP - 6 });
            text.textContent = String(i + 1);
            ticks.appendChild(text);
        }
        root.appendChild(ticks);

        this.cursor = svg('rect', { class: 'ul-player-cursor', x: 0, y: 0, width: col, height: height });
        root.appendChild(this.cursor);

        // A wait lasts from the waiting step to the lane's next step.
        const waits = svg('g', { class: 'ul-player-waits' });
        const waiting = {};
        t.steps.forEach(function(s, i) {
            if (waiting[s.lane] !== undefined) {
                waits.appendChild(svg('line', { class: 'ul-player-wait ul-lane-' + (s.lane % COLOURS),
                    x1: x(waiting[s.lane]), x2: x(i), y1: y(s.lane), y2: y(s.lane) }));
                delete waiting[s.lane];
            }
            if (WAITS.has(s.kind)) {
                waiting[s.lane] = i;
            }
        });
        root.appendChild(waits);

        const arrows = svg('g', { class: 'ul-player-arrows' });
        this.arrowTo = {};
        t.steps.forEach(function(s, i) {
            if (s.cause === null || s.cause === undefined) {
                return;
            }
            const c = t.steps[s.cause];
            const x1 = x(s.cause);
            const y1 = y(c.lane);
            const x2 = x(i);
            const y2 = y(s.lane);
            // Same lane: an arc above the rail; otherwise a gentle S.
            const d = c.lane === s.lane
                ? 'M' + x1 + ' ' + y1 + 'Q' + (x1 + x2) / 2 + ' ' + (y1 - ROW * 0.9) + ' ' + x2 + ' ' + y2
                : 'M' + x1 + ' ' + y1 + 'C' + (x1 + col * 0.8) + ' ' + y1 + ' ' + (x2 - col * 0.8) + ' ' +
                    y2 + ' ' + x2 + ' ' + y2;
            const path = svg('path', { class: 'ul-player-arrow', d: d, 'data-from': s.cause, 'data-to': i,
                'marker-end': 'url(#' + arrow + ')' });
            arrows.appendChild(path);
            this.arrowTo[i] = path;
        }, this);
        root.appendChild(arrows);

        const marks = svg('g', { class: 'ul-player-marks' });
        t.steps.forEach(function(s, i) {
            const mark = svg('circle', { class: 'ul-player-mark ul-lane-' + (s.lane % COLOURS) +
                (WAITS.has(s.kind) ? ' ul-player-mark-wait' : ''),
            cx: x(i), cy: y(s.lane), r: s.kind === 'note' ? RADIUS - 1.5 : RADIUS,
            'data-i': i, 'data-kind': s.kind });
            const title = svg('title');
            title.textContent = 'Step ' + (i + 1) + ': ' + s.label;
            mark.appendChild(title);
            marks.appendChild(mark);
        });
        root.appendChild(marks);

        // What has not happened yet is dimmed: one rectangle, moved.
        this.future = svg('rect', { class: 'ul-player-future', x: 0, y: 0, width: 0, height: height });
        root.appendChild(this.future);
        this.causeRing = svg('circle', { class: 'ul-player-ring ul-player-ring-cause', r: RADIUS + 4,
            cx: -99, cy: -99 });
        this.ring = svg('circle', { class: 'ul-player-ring', r: RADIUS + 4, cx: -99, cy: -99 });
        root.appendChild(this.causeRing);
        root.appendChild(this.ring);
        this.width = width;
        this.hot = null;

        this.scroll.textContent = '';
        this.scroll.appendChild(root);
        this.arrowId = arrow;
    };

    // Redraws when the room for the lanes changed (a window resize).
    Player.prototype.fit = function() {
        if (Math.abs(this.scroll.clientWidth - this.drawnFor) < 24) {
            return;
        }
        const i = this.index;
        this.draw();
        this.index = -1;
        this.go(i);
    };

    // Shows step `i` (clamped): O(size of its panel), whatever the trace.
    Player.prototype.go = function(i) {
        const t = this.trace;
        const n = t.steps.length;
        i = Math.max(0, Math.min(n - 1, Math.round(i) || 0));
        if (i === this.index) {
            return;
        }
        this.index = i;
        const s = t.steps[i];
        const x = this.x(i);
        const col = this.col;
        this.figure.setAttribute('data-step', String(i));
        this.scrubber.value = String(i);
        this.scrubber.setAttribute('aria-valuetext', 'Step ' + (i + 1) + ' of ' + n + ': ' + s.label);
        this.count.textContent = (i + 1) + ' / ' + n;

        this.cursor.setAttribute('x', x - col / 2);
        this.future.setAttribute('x', x + col / 2);
        this.future.setAttribute('width', Math.max(0, this.width - x - col / 2));
        this.ring.setAttribute('cx', x);
        this.ring.setAttribute('cy', this.y(s.lane));
        if (this.hot) {
            this.hot.classList.remove('ul-player-arrow-hot');
            this.hot.setAttribute('marker-end', 'url(#' + this.arrowId + ')');
            this.hot = null;
        }
        const hasCause = s.cause !== null && s.cause !== undefined;
        if (hasCause) {
            this.hot = this.arrowTo[i];
            this.hot.classList.add('ul-player-arrow-hot');
            this.hot.setAttribute('marker-end', 'url(#' + this.arrowId + '-hot)');
            // Drawn last among the arrows, so it is not hidden under others.
            this.hot.parentNode.appendChild(this.hot);
            this.causeRing.setAttribute('cx', this.x(s.cause));
            this.causeRing.setAttribute('cy', this.y(t.steps[s.cause].lane));
        } else {
            this.causeRing.setAttribute('cx', -99);
        }
        // Keep the current step in view.
        const sc = this.scroll;
        if (x < sc.scrollLeft + col || x > sc.scrollLeft + sc.clientWidth - col) {
            sc.scrollLeft = Math.max(0, x - sc.clientWidth / 2);
        }

        this.renderStep(i, hasCause);
        this.renderState(i);
    };

    Player.prototype.renderStep = function(i, hasCause) {
        const t = this.trace;
        const s = t.steps[i];
        const lane = t.lanes[s.lane];
        const line = this.stepLine;
        line.textContent = '';
        line.appendChild(el('span', { class: 'ul-player-swatch ul-lane-' + (s.lane % COLOURS), 'aria-hidden': 'true' }));
        line.appendChild(el('strong', { class: 'ul-player-step-n' },
            ['Step ' + (i + 1) + ' of ' + t.steps.length]));
        line.appendChild(document.createTextNode(' \u00b7 '));
        line.appendChild(el('span', { class: 'ul-player-time' }, [fmtTime(s.t_ns)]));
        line.appendChild(document.createTextNode(' \u00b7 '));
        line.appendChild(el('span', { class: 'ul-player-lane' }, [lane.name]));
        line.appendChild(document.createTextNode(' \u00b7 '));
        line.appendChild(el('code', { class: 'ul-player-kind' }, [s.kind]));
        line.appendChild(el('br'));
        line.appendChild(el('span', { class: 'ul-player-label' }, [s.label]));
        if (hasCause) {
            line.appendChild(el('span', { class: 'ul-player-cause' },
                [' (caused by step ' + (s.cause + 1) + ': ' + t.steps[s.cause].label + ')']));
        }
    };

    // The panel: each section a heading and its lines. Lines that were not
    // there one step earlier are marked, so a change catches the eye.
    Player.prototype.renderState = function(i) {
        const state = this.trace.steps[i].state;
        const before = i > 0 ? this.trace.steps[i - 1].state : null;
        const box = this.state;
        box.textContent = '';
        Object.keys(state).forEach(function(name) {
            const lines = state[name];
            const old = before && Array.isArray(before[name]) ? before[name] : null;
            const list = el('ul', { class: 'ul-player-lines' });
            lines.forEach(function(line) {
                const fresh = before !== null && (old === null || old.indexOf(line) < 0);
                list.appendChild(el('li', fresh ? { class: 'ul-player-new' } : {}, [line]));
            });
            const changed = before !== null && JSON.stringify(old) !== JSON.stringify(lines);
            const section = el('section', { class: 'ul-player-section' + (changed ? ' ul-player-changed' : ''),
                'data-section': name }, [el('h4', { class: 'ul-player-section-name' }, [name]), list]);
            if (!lines.length) {
                section.appendChild(el('p', { class: 'ul-player-empty' }, ['(empty)']));
            }
            box.appendChild(section);
        });
    };

    Player.prototype.act = function(action) {
        const n = this.trace.steps.length;
        if (action === 'play') {
            if (this.timer) {
                this.pause();
            } else {
                this.play();
            }
            return;
        }
        this.pause();
        if (action === 'start') {
            this.go(0);
        } else if (action === 'back') {
            this.go(this.index - 1);
        } else if (action === 'next') {
            this.go(this.index + 1);
        } else if (action === 'end') {
            this.go(n - 1);
        }
    };

    Player.prototype.play = function() {
        const self = this;
        const last = this.trace.steps.length - 1;
        if (this.index >= last) {
            this.go(0);
        }
        this.timer = setInterval(function() {
            if (self.index >= last) {
                self.pause();
            } else {
                self.go(self.index + 1);
            }
        }, BASE_MS / this.speed);
        this.figure.setAttribute('data-playing', 'true');
        // A step line announced several times a second drowns a screen
        // reader: quiet while playing, announced again on pause.
        this.stepLine.setAttribute('aria-live', 'off');
        this.playButton.setAttribute('aria-label', 'Pause (Space)');
        this.playButton.title = 'Pause (Space)';
        this.playButton.replaceChild(icon('pause'), this.playButton.firstChild);
    };

    Player.prototype.pause = function() {
        if (this.timer) {
            clearInterval(this.timer);
            this.timer = null;
        }
        this.figure.setAttribute('data-playing', 'false');
        this.stepLine.setAttribute('aria-live', 'polite');
        this.playButton.setAttribute('aria-label', 'Play (Space)');
        this.playButton.title = 'Play (Space)';
        this.playButton.replaceChild(icon('play'), this.playButton.firstChild);
    };

    // Keys work anywhere inside the player. The keys it uses stop here:
    // mdBook's own handler would turn the arrows into "previous/next chapter".
    Player.prototype.key = function(e) {
        if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) {
            return;
        }
        const target = e.target;
        const space = e.key === ' ' || e.key === 'Spacebar';
        const moves = { ArrowRight: 'next', ArrowLeft: 'back', Home: 'start', End: 'end' };
        if (!space && !moves[e.key]) {
            return;
        }
        // The speed menu and the file picker keep their keys.
        if (target.tagName === 'SELECT' || target === this.file) {
            return;
        }
        // The scrubber moves itself (and reports it through `input`).
        if (target === this.scrubber && !space) {
            e.stopPropagation();
            return;
        }
        // A focused button keeps Space for itself: it clicks.
        if (space && target.tagName === 'BUTTON') {
            return;
        }
        e.preventDefault();
        e.stopPropagation();
        this.act(space ? 'play' : moves[e.key]);
    };

    Player.prototype.error = function(text) {
        this.errorBox.textContent = text;
        this.errorBox.hidden = !text;
        this.figure.toggleAttribute('data-error', !!text);
    };

    Player.prototype.loadFile = function() {
        const self = this;
        const input = this.file;
        const file = input.files && input.files[0];
        if (!file) {
            return;
        }
        const name = file.name;
        readFile(file).then(function(text) {
            let trace;
            try {
                trace = JSON.parse(text);
            } catch (e) {
                self.error('Could not load ' + name + ': it is not JSON (' + e.message +
                    '). The trace shown is unchanged.');
                return;
            }
            const why = invalid(trace);
            if (why) {
                self.error('Could not load ' + name + ': ' + why + '. The trace shown is unchanged.');
                return;
            }
            self.error('');
            self.show(trace, name);
        }, function(err) {
            self.error('Could not read ' + name + ' (' + err + '). The trace shown is unchanged.');
        }).then(function() {
            // The same file can be picked again after it changed on disk.
            input.value = '';
        });
    };

    // ------------------------------------------------------------- setup

    function setup(figure) {
        if (figure.hasAttribute('data-player')) {
            return;
        }
        const data = figure.querySelector('script.ul-scene-data');
        let trace = null;
        let why;
        try {
            trace = JSON.parse(data ? data.textContent : '');
            why = invalid(trace);
        } catch (e) {
            why = 'its trace is not JSON (' + e.message + ')';
        }
        if (why) {
            // A broken page is a bug in the book: say it on the page and in
            // the console (the browser check fails on console errors).
            figure.setAttribute('data-player', 'error');
            const p = el('p', { class: 'ul-player-error', role: 'alert' },
                ['This scene cannot be shown: ' + why + '. Its steps are listed below.']);
            const caption = figure.querySelector('figcaption');
            figure.insertBefore(p, caption ? caption.nextSibling : figure.firstChild);
            console.error('Under Load player: scene ' + figure.getAttribute('data-scene') + ': ' + why);
            return;
        }
        figure.ulPlayer = new Player(figure, trace);
        figure.setAttribute('data-player', 'ready');
    }

    function init() {
        document.querySelectorAll('figure.ul-scene').forEach(setup);
        let resizing = null;
        window.addEventListener('resize', function() {
            clearTimeout(resizing);
            resizing = setTimeout(function() {
                document.querySelectorAll('figure.ul-scene').forEach(function(f) {
                    if (f.ulPlayer) {
                        f.ulPlayer.fit();
                    }
                });
            }, 150);
        });
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', init);
    } else {
        init();
    }
})();
