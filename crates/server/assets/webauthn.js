// keyfleet: the WebAuthn calls the sign-in and security-info pages share.
//
// Options come from keyfleet's JSON API in the WebAuthn Level 3 JSON forms; the browser's
// PublicKeyCredential.parse*OptionsFromJSON and credential.toJSON() are used when present,
// with a small fallback for older browsers. Every failure becomes one human sentence.
(function (global) {
  'use strict';

  function b64urlToBuf(s) {
    const pad = '='.repeat((4 - (s.length % 4)) % 4);
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + pad);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: b64urlToBuf(d.id) });
    });
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: b64urlToBuf(json.challenge),
      user: Object.assign({}, json.user, { id: b64urlToBuf(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: b64urlToBuf(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === 'function') {
      try { return cred.toJSON(); } catch (e) { /* fall through to the manual form */ }
    }
    const r = cred.response;
    const response = { clientDataJSON: bufToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufToB64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = bufToB64url(r.authenticatorData);
      response.signature = bufToB64url(r.signature);
      if (r.userHandle) response.userHandle = bufToB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: bufToB64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: response,
    };
  }

  // A refusal from keyfleet: the problem document's code and detail.
  class ServerError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || ('keyfleet answered ' + status));
      this.name = 'ServerError';
      this.status = status;
      this.code = (problem && problem.code) || 'http_' + status;
    }
  }

  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method: method,
        credentials: 'same-origin',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ServerError(0, { code: 'network', detail: '' });
    }
    if (res.status === 204) return null;
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new ServerError(res.status, data);
    return data;
  }

  // Human text for any failure of a ceremony. `what` is 'register' or 'signin';
  // `elapsed` and `timeout` (ms) tell a timeout from a cancellation.
  function explain(err, what, elapsed, timeout) {
    const name = err && err.name;
    if (name === 'ServerError') {
      switch (err.code) {
        case 'network': return 'keyfleet could not be reached. Check your connection and try again.';
        case 'credential_exists': return 'This security key is already registered. Use another key, or rename the one in your list.';
        case 'uv_required': return 'Your organisation requires the key to check your PIN or fingerprint, and this key did not. Set a PIN on the key, then try again.';
        case 'credential_suspended': return 'This key has been suspended because it may have been copied. Contact your helpdesk.';
        case 'authentication_failed':
        case 'credential_not_allowed':
        case 'user_handle_mismatch':
          return 'This security key is not registered to your account, or it was removed. Use a registered key, or ask your helpdesk for a temporary access pass.';
        case 'challenge_expired':
        case 'challenge_used':
        case 'unknown_ceremony':
          return 'This took too long, or the page was used twice. Nothing was changed. Try again.';
        case 'too_many_attempts':
        case 'too_many_requests':
          return 'Too many attempts from this device. Wait a few minutes, then try again.';
        case 'account_disabled':
          return 'Your account is disabled, so you cannot sign in. If you think this is a mistake, ask your administrator or helpdesk to enable it.';
        case 'session_expired':
        case 'unauthenticated':
          return 'Your session has ended. Sign in again to continue.';
        case 'none_attestation_not_allowed':
        case 'self_attestation_not_allowed':
        case 'untrusted_attestation':
        case 'attestation_untrusted':
        case 'policy_refused':
          return 'Your organisation\'s policy does not allow this security key. Use a key your organisation issued. (' + err.message + ')';
        case 'invalid_nickname': return err.message;
        default:
          if (err.code && err.code.indexOf('attestation') >= 0) {
            return 'Your organisation\'s policy does not allow this security key. Use a key your organisation issued. (' + err.message + ')';
          }
          if (err.status >= 500) return 'keyfleet could not finish this. Nothing was changed. Try again in a moment.';
          return 'keyfleet refused this: ' + err.message;
      }
    }
    switch (name) {
      case 'NotAllowedError':
        if (timeout && elapsed >= timeout * 0.95) {
          return 'The security key was not used in time. Nothing was changed. Have your key ready and try again.';
        }
        return what === 'register'
          ? 'Adding the key was cancelled or not allowed. Nothing was changed. Try again, and touch your key when it blinks.'
          : 'Sign-in was cancelled, or no key registered to this account was used. Try again with your registered key.';
      case 'InvalidStateError':
        return 'This security key is already registered to your account. Use another key, or rename the one in your list.';
      case 'AbortError': return 'The request was stopped. Nothing was changed.';
      case 'SecurityError':
        return 'The browser refused to use your key because this page\'s address does not match keyfleet\'s configuration. Ask your administrator to check the site address.';
      case 'NotSupportedError':
        return 'This browser or security key cannot do what keyfleet asks. Try another browser or key.';
      case 'ConstraintError':
        return 'Your security key cannot check a PIN or fingerprint, which keyfleet requires. Set a PIN on the key and try again.';
      default:
        if (typeof PublicKeyCredential === 'undefined') {
          return 'This browser does not support security keys. Use a current version of Chrome, Edge, Firefox or Safari.';
        }
        return 'Something went wrong with the security key (' + (name || 'error') + '). Nothing was changed. Try again.';
    }
  }

  function supported() {
    return typeof global.PublicKeyCredential !== 'undefined' && !!navigator.credentials;
  }

  // Signs in: username (or '' for a discoverable, username-less sign-in) → the user JSON.
  async function signIn(username) {
    const body = username ? { username: username } : {};
    const start = await api('POST', '/api/v1/auth/webauthn/options', body);
    const t0 = Date.now();
    let cred;
    try {
      cred = await navigator.credentials.get({ publicKey: requestOptions(start.publicKey) });
    } catch (e) {
      e.elapsed = Date.now() - t0;
      e.timeout = start.publicKey.timeout;
      throw e;
    }
    return api('POST', '/api/v1/auth/webauthn/verify', { ceremonyId: start.ceremonyId, credential: credentialJSON(cred) });
  }

  // Registers a key with a nickname; `step(n)` is told when the browser takes over (1).
  async function register(nickname, step) {
    const start = await api('POST', '/api/v1/me/credentials/registration/options');
    step(1);
    const t0 = Date.now();
    let cred;
    try {
      cred = await navigator.credentials.create({ publicKey: creationOptions(start.publicKey) });
    } catch (e) {
      e.elapsed = Date.now() - t0;
      e.timeout = start.publicKey.timeout;
      throw e;
    }
    step(4);
    return api('POST', '/api/v1/me/credentials/registration/verify', {
      ceremonyId: start.ceremonyId, nickname: nickname, credential: credentialJSON(cred),
    });
  }

  function describe(err, what) {
    return explain(err, what, err && err.elapsed, err && err.timeout);
  }

  // Shows a message in a live region; kind is 'error', 'ok' or 'busy'.
  function say(el, text, kind) {
    // A new message replaces the page's earlier ones (a success banner from the last
    // change must not stand beside a new error).
    document.querySelectorAll('#notice, #page-error').forEach(function (old) {
      if (old !== el) old.hidden = true;
    });
    el.textContent = text;
    el.className = 'status ' + (kind || '');
    el.hidden = !text;
    if (kind === 'error') el.focus();
  }

  global.keyfleet = { signIn: signIn, register: register, describe: describe, supported: supported, say: say, api: api };
})(window);
