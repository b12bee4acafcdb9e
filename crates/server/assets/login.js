// keyfleet sign-in page: username-less and username-first sign-in with a security key.
(function () {
  'use strict';
  const root = document.getElementById('login');
  const status = document.getElementById('signin-status');
  const next = root.dataset.next || '/security-info';
  let busy = false;

  async function go(username, button) {
    if (busy) return;
    if (!keyfleet.supported()) {
      keyfleet.say(status, keyfleet.describe({ name: 'Unsupported' }, 'signin'), 'error');
      return;
    }
    busy = true;
    if (button) button.disabled = true;
    keyfleet.say(status, 'Insert or tap your security key, enter its PIN if asked, then touch it.', 'busy');
    try {
      await keyfleet.signIn(username);
      keyfleet.say(status, 'Signed in. One moment…', 'ok');
      window.location.assign(next);
    } catch (e) {
      keyfleet.say(status, keyfleet.describe(e, 'signin'), 'error');
    } finally {
      busy = false;
      if (button) button.disabled = false;
    }
  }

  const passkey = document.getElementById('passkey-signin');
  if (passkey) passkey.addEventListener('click', function () { go('', passkey); });

  const hinted = document.getElementById('hinted-signin');
  if (hinted) hinted.addEventListener('click', function () { go(hinted.dataset.username, hinted); });

  const form = document.getElementById('username-form');
  if (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      const input = document.getElementById('username');
      const name = input.value.trim();
      if (!name) {
        keyfleet.say(status, 'Enter your username, or use "Sign in with a security key" without one.', 'error');
        input.focus();
        return;
      }
      go(name, form.querySelector('button'));
    });
  }
})();
