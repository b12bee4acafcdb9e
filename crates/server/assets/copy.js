// keyfleet: "Copy the code" buttons. The button stays hidden where the clipboard cannot be
// written (no JavaScript, or not a secure context), so nobody is offered what cannot work.
(function () {
  'use strict';
  document.querySelectorAll('button[data-copy-from]').forEach(function (button) {
    const source = document.getElementById(button.dataset.copyFrom);
    const status = document.getElementById('copy-status');
    if (!source || !navigator.clipboard || !window.isSecureContext) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      const text = source.dataset.code || source.textContent.replace(/\s+/g, '');
      navigator.clipboard.writeText(text).then(function () {
        if (status) status.textContent = 'Copied. Paste it where it is needed, then clear your clipboard.';
      }, function () {
        if (status) status.textContent = 'The browser did not allow copying. Select the code and copy it by hand.';
      });
    });
  });
})();
