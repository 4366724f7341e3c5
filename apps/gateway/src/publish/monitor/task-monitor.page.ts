/**
 * Seed 003's task monitor panel as one self-contained page: sign in with a pasted bearer token,
 * submit an article, watch the caller's tasks live, cancel and retry them.
 *
 * Live without polling: the list is one long-lived `GET /api/publish_tasks/events` (server-sent
 * events; its first event is the newest tasks, then one per change). It is read with `fetch` and
 * a stream reader rather than `EventSource`, which cannot send the Authorization header; when the
 * stream ends (its deadline, a restart) the page opens it again, which also re-reads the list.
 * A task submitted here is read once after its answer (one that waits for a running slot has no
 * change to announce it until it is queued). Every row keeps the statuses it has shown in
 * `data-seen` (what the browser test checks).
 */
export const TASK_MONITOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Publish task monitor</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2328; }
  h1 { font-size: 20px; margin: 0 0 16px; }
  fieldset { border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 16px; padding: 12px; }
  legend { font-weight: 600; }
  input, textarea { font: inherit; padding: 4px 6px; border: 1px solid #d0d7de; border-radius: 4px; }
  textarea { width: 100%; box-sizing: border-box; }
  button { font: inherit; padding: 4px 10px; border-radius: 4px; border: 1px solid #d0d7de; background: #f6f8fa; cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
  .bar { width: 120px; height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > span { display: block; height: 100%; background: #0969da; }
  .status { font-weight: 600; }
  .status.success { color: #1a7f37; } .status.failed { color: #cf222e; } .status.cancelled { color: #6e7781; }
  #connection { margin-left: 8px; color: #6e7781; }
  .error { color: #cf222e; }
</style>
</head>
<body>
<h1>Publish task monitor <span id="connection" data-testid="connection">signed out</span></h1>
<fieldset>
  <legend>Sign in</legend>
  <textarea id="token" data-testid="token" rows="2" placeholder="Paste a bearer token (JWT with publish:run and publish:list)"></textarea>
  <p><button id="sign-in" data-testid="sign-in">Sign in</button> <span id="sign-in-error" class="error" data-testid="sign-in-error"></span></p>
</fieldset>
<fieldset>
  <legend>Publish an article</legend>
  <p><input id="title" data-testid="title" placeholder="Title" size="40"> <input id="article-id" data-testid="article-id" placeholder="Article id" type="number" min="1" value="1"></p>
  <textarea id="content" data-testid="content" rows="3" placeholder="Content"></textarea>
  <p><button id="publish" data-testid="publish" disabled>Publish</button> <span id="publish-result" data-testid="publish-result"></span></p>
</fieldset>
<table>
  <thead><tr><th>Task</th><th>Title</th><th>Status</th><th>Progress</th><th>Attempts</th><th>Result</th><th></th></tr></thead>
  <tbody id="tasks" data-testid="tasks"></tbody>
</table>
<script>
(function () {
  'use strict';
  var token = '';
  var stream = null;
  var rows = {};
  var $ = function (id) { return document.getElementById(id); };

  function api(method, path, body) {
    var init = { method: method, headers: { authorization: 'Bearer ' + token } };
    if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var json = text ? JSON.parse(text) : null;
        if (!response.ok) throw new Error((json && json.error && json.error.message) || ('HTTP ' + response.status));
        return json;
      });
    });
  }

  function cell(text) { var td = document.createElement('td'); td.textContent = text; return td; }

  function render(task) {
    var row = rows[task.task_id];
    if (!row) {
      row = document.createElement('tr');
      row.dataset.taskId = task.task_id;
      row.dataset.seen = '';
      row.setAttribute('data-testid', 'task-row');
      rows[task.task_id] = row;
      var body = $('tasks');
      body.insertBefore(row, body.firstChild);
    }
    var seen = row.dataset.seen ? row.dataset.seen.split(',') : [];
    if (seen[seen.length - 1] !== task.status) seen.push(task.status);
    row.dataset.seen = seen.join(',');
    row.dataset.status = task.status;
    row.textContent = '';
    row.appendChild(cell(task.task_id.slice(0, 8)));
    row.appendChild(cell(task.article_title));
    var status = cell(task.status);
    status.className = 'status ' + task.status;
    status.setAttribute('data-testid', 'status');
    row.appendChild(status);
    var progress = document.createElement('td');
    progress.innerHTML = '<span class="bar"><span></span></span> ';
    progress.firstChild.firstChild.style.width = task.progress + '%';
    progress.appendChild(document.createTextNode(task.progress + '%'));
    progress.setAttribute('data-testid', 'progress');
    row.appendChild(progress);
    row.appendChild(cell(String(task.attempts)));
    var result = document.createElement('td');
    if (task.result_url) {
      var link = document.createElement('a');
      link.href = task.result_url; link.textContent = 'article'; link.target = '_blank';
      result.appendChild(link);
    }
    if (task.error_message) {
      var error = document.createElement('div');
      error.className = 'error'; error.textContent = task.error_message;
      result.appendChild(error);
    }
    row.appendChild(result);
    var actions = document.createElement('td');
    actions.appendChild(button('Cancel', 'cancel', task, task.status === 'pending' || task.status === 'queued'));
    actions.appendChild(document.createTextNode(' '));
    actions.appendChild(button('Retry', 'retry', task, task.status === 'failed' || task.status === 'cancelled'));
    row.appendChild(actions);
  }

  function button(label, action, task, enabled) {
    var b = document.createElement('button');
    b.textContent = label;
    b.disabled = !enabled;
    b.setAttribute('data-testid', action);
    b.onclick = function () {
      b.disabled = true;
      api('POST', '/api/publish_task/' + task.task_id + '/' + action).then(function (answer) { render(answer.task); }, function (error) { alert(error.message); });
    };
    return b;
  }

  function follow() {
    if (stream) stream.abort();
    var controller = new AbortController();
    stream = controller;
    fetch('/api/publish_tasks/events?size=50', { headers: { authorization: 'Bearer ' + token }, signal: controller.signal }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      $('connection').textContent = 'live';
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = '';
      function read() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error('stream ended');
          buffer += decoder.decode(chunk.value, { stream: true });
          var end;
          while ((end = buffer.indexOf('\\n\\n')) !== -1) {
            var frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            var event = 'message', data = '';
            frame.split('\\n').forEach(function (line) {
              if (line.indexOf('event: ') === 0) event = line.slice(7);
              else if (line.indexOf('data: ') === 0) data += line.slice(6);
            });
            if (event === 'tasks') JSON.parse(data).tasks.slice().reverse().forEach(render);
          }
          return read();
        });
      }
      return read();
    }).catch(function () {
      if (controller.signal.aborted) return;
      $('connection').textContent = 'reconnecting';
      setTimeout(function () { if (stream === controller) follow(); }, 1000);
    });
  }

  $('sign-in').onclick = function () {
    token = $('token').value.trim();
    $('sign-in-error').textContent = '';
    api('GET', '/api/publish_tasks?size=1').then(function () {
      // The token stays in this page's memory only, not on the screen.
      $('token').value = '';
      $('token').placeholder = 'Signed in (paste another token to switch)';
      $('publish').disabled = false;
      $('connection').textContent = 'connecting';
      follow();
    }, function (error) { $('sign-in-error').textContent = error.message; $('connection').textContent = 'signed out'; });
  };

  $('publish').onclick = function () {
    var articleId = Number($('article-id').value);
    api('POST', '/api/publish_zhihu', { title: $('title').value, content: $('content').value, article_id: articleId }).then(function (answer) {
      $('publish-result').textContent = answer.message;
      $('article-id').value = String(articleId + 1);
      // A task waiting for a running slot changes only when it is queued: shown now, from one read.
      // The stream may have shown the task already, and newer than this read (it answers after
      // the task started running): then the read is stale and the stream's state stays.
      return api('GET', '/api/publish_task/' + answer.task_id).then(function (read) { if (!rows[read.task.task_id]) render(read.task); });
    }).catch(function (error) { $('publish-result').textContent = error.message; });
  };
})();
</script>
</body>
</html>
`;
