/// The JavaScript the runner puts into the page.
enum PageHooks {
    /// Installed with `Page.addScriptToEvaluateOnNewDocument`, so it runs before the page's own
    /// scripts: it keeps console errors, uncaught exceptions, unhandled rejections and failed
    /// loads (an `error` event on an element, a fetch that rejected or was not ok), and counts
    /// requests in flight for the network-idle wait. Lists are capped; entries are cut short.
    static let install = #"""
    (() => {
      if (window.__llmDeployCheck) return;
      const state = { console: [], exceptions: [], failed: [], pending: 0, last: Date.now() };
      Object.defineProperty(window, '__llmDeployCheck', { value: state, enumerable: false });
      const keep = (list, text) => { if (list.length < 30) list.push(String(text).slice(0, 300)); };
      const show = (value) => {
        if (typeof value === 'string') return value;
        if (value instanceof Error) return value.name + ': ' + value.message;
        try { return JSON.stringify(value); } catch (e) { return String(value); }
      };
      const error = console.error;
      console.error = function (...args) { keep(state.console, args.map(show).join(' ')); return error.apply(this, args); };
      addEventListener('error', (event) => {
        const target = event.target;
        if (target && target !== window && (target.src || target.href)) {
          keep(state.failed, 'failed to load ' + (target.src || target.href));
        } else {
          keep(state.exceptions, (event.message || 'error') + (event.filename ? ' (' + event.filename + ':' + event.lineno + ')' : ''));
        }
      }, true);
      addEventListener('unhandledrejection', (event) => keep(state.exceptions, 'unhandled rejection: ' + show(event.reason)));
      const touch = () => { state.last = Date.now(); };
      if (window.fetch) {
        const fetch = window.fetch;
        window.fetch = function (...args) {
          state.pending++; touch();
          const url = String(args[0] && args[0].url || args[0]).slice(0, 200);
          return fetch.apply(this, args).then((response) => {
            if (!response.ok) keep(state.failed, response.status + ' fetch ' + url);
            return response;
          }, (reason) => {
            keep(state.failed, 'fetch ' + url + ' failed: ' + show(reason));
            throw reason;
          }).finally(() => { state.pending--; touch(); });
        };
      }
      const send = XMLHttpRequest.prototype.send;
      XMLHttpRequest.prototype.send = function (...args) {
        state.pending++; touch();
        this.addEventListener('loadend', () => { state.pending--; touch(); });
        return send.apply(this, args);
      };
      try { new PerformanceObserver(touch).observe({ type: 'resource', buffered: true }); } catch (e) {}
    })();
    """#

    /// Execute Script: is the page loaded and the network quiet?
    static let idleProbe = #"""
    const s = window.__llmDeployCheck;
    return { ready: document.readyState, pending: s ? s.pending : 0, quiet: s ? Date.now() - s.last : 1e9 };
    """#

    /// Execute Script: what the hooks collected.
    static let evidence = #"""
    const s = window.__llmDeployCheck || { console: [], exceptions: [], failed: [] };
    return { console: s.console, exceptions: s.exceptions, failed: s.failed };
    """#

    /// Execute Async Script for one check. The expression is pasted in (not `eval`ed, which a
    /// page's Content-Security-Policy may forbid); a syntax error therefore fails the whole
    /// script and comes back as a WebDriver `javascript error`. A function is called, a promise
    /// awaited; a result not settled within `arguments[0]` ms is reported as such.
    static func check(_ expression: String) -> String {
        """
        const done = arguments[arguments.length - 1];
        let settled = false;
        const finish = (result) => { if (!settled) { settled = true; done(result); } };
        const describe = (value) => {
          if (value === undefined) return 'undefined';
          if (typeof value === 'function') return 'a function';
          if (typeof Element !== 'undefined' && value instanceof Element) {
            return '<' + value.tagName.toLowerCase() + (value.id ? ' id="' + value.id + '"' : '') + '>';
          }
          let text;
          try { text = JSON.stringify(value); } catch (e) { text = String(value); }
          if (text === undefined) text = String(value);
          return text.length > 120 ? text.slice(0, 117) + '...' : text;
        };
        setTimeout(() => finish({ outcome: 'pending' }), arguments[0]);
        (async () => {
          let value = (
        \(expression)
          );
          if (typeof value === 'function') value = value();
          return await value;
        })().then(
          (value) => finish({ outcome: 'value', type: value === null ? 'null' : typeof value, truthy: !!value, text: describe(value) }),
          (error) => finish({ outcome: 'threw', text: (error && error.name ? error.name + ': ' + error.message : String(error)).slice(0, 300) }));
        """
    }
}
