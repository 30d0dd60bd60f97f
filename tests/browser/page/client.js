/* Browser side of the official-client test. Uses only documented SignalR 2.4.3 JS APIs ($.hubConnection,
 * createHubProxy, qs, start({transport}), invoke, on, reconnecting/reconnected/disconnected); the node script
 * drives it through page.evaluate and reads the recorded state. Nothing here waits on time: the test polls. */
(function (window, $) {
  'use strict';

  var st = {
    updates: [],      // every Update argument received, in arrival order
    events: [],       // connection lifecycle events, e.g. 'reconnecting', 'reconnected'
    errors: [],       // error messages reported by the client
    pongs: 0,         // /ping requests answered 2xx (the client parses the body after this count is taken)
    connection: null,
    proxy: null,
  };

  function stateName(s) {
    var names = $.signalR.connectionState;
    for (var k in names) {
      if (names[k] === s) return k;
    }
    return String(s);
  }

  /* Starts one connection with the given transport; resolves with what the client negotiated. */
  st.start = function (opts) {
    return new Promise(function (resolve, reject) {
      var conn = $.hubConnection(opts.url, { useDefaultPath: false, logging: true });
      // The documented way for browsers to carry a bearer token: it is appended to every request URL.
      conn.qs = { access_token: opts.token };
      var proxy = conn.createHubProxy(opts.hub);
      // A handler must exist before start() so the hub is listed in connectionData.
      proxy.on('Update', function (update) {
        st.updates.push(update);
      });
      conn.reconnecting(function () { st.events.push('reconnecting'); });
      conn.reconnected(function () { st.events.push('reconnected'); });
      conn.disconnected(function () { st.events.push('disconnected'); });
      conn.error(function (e) { st.errors.push(String((e && e.message) || e)); });
      conn.stateChanged(function (c) {
        document.getElementById('state').textContent = stateName(c.newState);
      });
      st.connection = conn;
      st.proxy = proxy;
      var startOpts = { transport: opts.transport };
      if (opts.pingInterval) startOpts.pingInterval = opts.pingInterval; // documented start() option, default 300 s
      conn.start(startOpts)
        .done(function () {
          resolve({ transport: conn.transport && conn.transport.name, id: conn.id, state: stateName(conn.state) });
        })
        .fail(function (e) { reject(new Error('start failed: ' + ((e && e.message) || e))); });
    });
  };

  /* Invokes a hub method; resolves with its result (undefined for void methods). */
  st.invoke = function (method, arg) {
    return new Promise(function (resolve, reject) {
      st.proxy.invoke(method, arg)
        .done(function (r) { resolve(r === undefined ? null : r); })
        .fail(function (e) { reject(new Error(method + ' failed: ' + ((e && e.message) || e))); });
    });
  };

  // The client's pings are not global jQuery requests (ajaxDefaults.global is false): a prefilter sees every one.
  $.ajaxPrefilter(function (options, original, jqXHR) {
    if (/\/ping(\?|$)/.test(options.url)) jqXHR.done(function () { st.pongs++; });
  });

  st.info = function () {
    var c = st.connection;
    return {
      state: c ? stateName(c.state) : 'none',
      transport: c && c.transport ? c.transport.name : null,
      id: c ? c.id : null,
      updates: st.updates.length,
      pongs: st.pongs,
      events: st.events.slice(),
      errors: st.errors.slice(),
    };
  };

  st.stop = function () {
    if (st.connection) st.connection.stop(false, true);
    return true;
  };

  window.chTest = st;
})(window, jQuery);
