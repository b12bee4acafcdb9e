// keyfleet security-info page: adding a security key, with the steps shown as they happen.
(function () {
  'use strict';
  const section = document.getElementById('add-key');
  const form = document.getElementById('add-key-form');
  const input = document.getElementById('nickname');
  const status = document.getElementById('add-status');
  const button = document.getElementById('add-key-button');
  const steps = Array.prototype.slice.call(document.querySelectorAll('#add-steps li'));

  function step(n) {
    steps.forEach(function (li) {
      const s = Number(li.dataset.step);
      li.classList.toggle('done', s < n);
      if (s === n) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
    });
  }

  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const nickname = input.value.trim();
    if (nickname.length < 1 || nickname.length > 64) {
      keyfleet.say(status, 'Give the key a nickname of 1 to 64 characters.', 'error');
      input.focus();
      return;
    }
    if (!keyfleet.supported()) {
      keyfleet.say(status, keyfleet.describe({ name: 'Unsupported' }, 'register'), 'error');
      return;
    }
    button.disabled = true;
    keyfleet.say(status, 'Follow the steps: insert or tap your key, enter its PIN, then touch it.', 'busy');
    try {
      await keyfleet.register(nickname, step);
      step(5);
      keyfleet.say(status, 'Your key “' + nickname + '” is registered.', 'ok');
      window.location.assign(section.dataset.after);
    } catch (e) {
      step(0);
      keyfleet.say(status, keyfleet.describe(e, 'register'), 'error');
      button.disabled = false;
    }
  });
})();
