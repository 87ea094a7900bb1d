// Under Load: small enhancements on top of mdBook 0.5's book.js.
// Markup contract: theme/README.md. Everything here is optional: the
// markup reads fine without JavaScript.
(function underLoad() {
    'use strict';

    const FEEDBACK_MS = 2000;

    // Copies with a hidden textarea, for browsers (or insecure origins)
    // without the async Clipboard API.
    function fallbackCopy(text) {
        const area = document.createElement('textarea');
        area.value = text;
        area.setAttribute('readonly', '');
        area.style.position = 'fixed';
        area.style.top = '0';
        area.style.left = '-9999px';
        area.style.opacity = '0';
        document.body.appendChild(area);
        area.select();
        let ok = false;
        try {
            ok = document.execCommand('copy');
        } catch (e) {
            ok = false;
        }
        document.body.removeChild(area);
        return ok;
    }

    function copyText(text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text).then(
                function() { return true; },
                function() { return fallbackCopy(text); }
            );
        }
        return Promise.resolve(fallbackCopy(text));
    }

    function showFeedback(button, ok) {
        button.setAttribute('data-copied', ok ? 'true' : 'false');
        button.textContent = ok ? 'Copied' : 'Copy failed';
        button.title = ok ? 'Copied to clipboard' : 'Could not copy; select the text instead';
        clearTimeout(button.ulTimer);
        button.ulTimer = setTimeout(function() {
            button.removeAttribute('data-copied');
            button.textContent = 'Copy';
            button.title = 'Copy command';
        }, FEEDBACK_MS);
    }

    function addCopyButton(run) {
        const code = run.querySelector('code');
        if (!code || run.querySelector('.ul-copy')) {
            return;
        }
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'ul-copy';
        button.textContent = 'Copy';
        button.title = 'Copy command';
        button.setAttribute('aria-label', 'Copy command');
        button.setAttribute('aria-live', 'polite');
        button.addEventListener('click', function() {
            copyText(code.textContent.trim()).then(function(ok) {
                showFeedback(button, ok);
            });
        });
        run.appendChild(button);
    }

    function init() {
        document.querySelectorAll('.ul-run').forEach(addCopyButton);
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', init);
    } else {
        init();
    }
})();
