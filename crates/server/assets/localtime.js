// keyfleet: times in the reader's own time zone. Pages are written in UTC with the exact
// instant in each <time datetime="…">; this shows it in local time with the zone's name,
// and keeps the UTC text as the hover title. Without JavaScript, pages stay in UTC.
(function () {
  'use strict';
  let withSeconds, withMinutes;
  try {
    withMinutes = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
    });
    withSeconds = new Intl.DateTimeFormat(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
      timeZoneName: 'short',
    });
  } catch (e) {
    return;
  }
  document.querySelectorAll('time[datetime]').forEach(function (el) {
    const at = new Date(el.getAttribute('datetime'));
    if (isNaN(at.getTime())) return;
    const utc = el.textContent.trim();
    const precise = /:\d\d:\d\d/.test(utc);
    el.textContent = (precise ? withSeconds : withMinutes).format(at);
    el.title = utc;
    el.dataset.utc = utc;
  });
})();
