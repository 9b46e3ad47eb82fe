// The page talks to Feathers over socket.io directly: `emit(method, path, …args, callback)` calls
// a service method, and `<path> <event>` delivers real-time events. No build step, no framework.
(function () {
  'use strict';

  var socket = io();
  var list = document.getElementById('messages');
  var empty = document.getElementById('empty');
  var form = document.getElementById('compose');
  var input = document.getElementById('text');
  var errorBox = document.getElementById('error');
  var shown = new Map();
  var lastId = 0;

  function call(method) {
    var args = Array.prototype.slice.call(arguments, 1);
    return new Promise(function (resolve, reject) {
      socket.emit.apply(
        socket,
        [method, 'messages'].concat(args, function (error, result) {
          if (error) reject(error);
          else resolve(result);
        }),
      );
    });
  }

  function time(iso) {
    return new Date(iso).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  }

  // Events from several instances can arrive out of id order: insert each one in its place.
  function show(message) {
    if (shown.has(message.id)) return;
    var item = document.createElement('li');
    item.dataset.id = String(message.id);
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = message.text;
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = 'via ' + message.instance + ' · ' + time(message.createdAt);
    item.append(text, meta);
    var next = null;
    shown.forEach(function (element, id) {
      if (id > message.id && (!next || id < Number(next.dataset.id))) next = element;
    });
    list.insertBefore(item, next);
    shown.set(message.id, item);
    lastId = Math.max(lastId, message.id);
    empty.hidden = true;
    item.scrollIntoView({ block: 'nearest' });
  }

  function showError(error) {
    errorBox.textContent = error ? error.message || String(error) : '';
    errorBox.hidden = !error;
  }

  function setBadge(id, text, state) {
    var badge = document.getElementById(id);
    badge.textContent = text;
    badge.dataset.state = state;
  }

  // On every (re)connect, fetch what was posted meanwhile: events sent while offline are not replayed.
  socket.on('connect', function () {
    document.body.dataset.socket = 'connected';
    setBadge('socket', 'live', 'ok');
    call('find', { id: { $gt: lastId }, $limit: 200 }).then(function (messages) {
      messages.forEach(show);
    }, showError);
  });
  socket.on('disconnect', function () {
    document.body.dataset.socket = 'offline';
    setBadge('socket', 'offline', 'bad');
    setBadge('sync', 'sync unknown', 'bad');
  });
  socket.on('messages created', show);

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    call('create', { text: text }).then(function (message) {
      showError(null);
      input.value = '';
      show(message);
    }, showError);
  });

  // The sync badge follows this instance's SyncService.status$ live: the server pushes every
  // change (`stale` included) as `sync status`. GET /health gives the state when the page
  // (re)connects, and which instance it is on.
  var pushes = 0;
  function showSync(type, status) {
    setBadge('sync', 'sync ' + type + ' · ' + status, status === 'ready' ? 'ok' : 'bad');
  }
  socket.on('sync status', function (message) {
    pushes++;
    showSync(message.type, message.status);
  });
  function askHealth() {
    var before = pushes;
    fetch('/health', { cache: 'no-store' })
      .then(function (response) {
        return response.json();
      })
      .then(function (health) {
        var details = health.details || {};
        var instance = details.instance || {};
        var sync = details.sync || {};
        document.getElementById('instance').textContent = instance.name;
        document.title = 'Messages · ' + instance.name;
        // A push that arrived meanwhile is newer than this answer.
        if (pushes === before) showSync(sync.transport, sync.syncStatus);
      })
      .catch(function () {
        if (pushes === before) setBadge('sync', 'sync unknown', 'bad');
      });
  }
  socket.on('connect', askHealth);
})();
