// The till (收银台): keyboard-first checkout. The page holds the basket (SKUs, quantities, line
// discounts, the coupon code and the points asked for); every money figure it shows comes from the
// server's quote (rewards.services.checkout.quote_checkout). No library, no framework.
"use strict";
(function () {
  const SCAN_GAP_MS = 50; // a scanner types faster than this between keys, on average
  const SCAN_MIN_LENGTH = 4;
  const QUOTE_DELAY_MS = 250;

  function data(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_all, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("till");
    if (!root) {
      return;
    }
    const T = data("till-strings");
    const URLS = data("till-urls");
    const form = document.getElementById("till-confirm-form");
    const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const el = function (id) {
      return document.getElementById(id);
    };
    const memberInput = el("till-member");
    const productInput = el("till-product");
    const couponInput = el("till-coupon");
    const partnerInput = el("till-partner");
    const pointsInput = el("till-points");
    const storedValueInput = el("till-stored-value");
    const topUp = el("till-top-up"); // absent without the top-up permission
    const confirmButton = el("till-confirm");
    const linesBody = document.querySelector("#till-lines tbody");
    const mayOverride = root.dataset.mayOverridePrice === "1";

    const state = { member: null, walkIn: false, lines: [], couponCode: "", points: 0, storedValue: "", carePlans: [] };
    let fitStoredValue = false; // "use all": take what the quote allowed
    let lastQuote = null;
    let quoteTimer = null;
    let quoteSeq = 0;

    // --- talking to the server ---------------------------------------------------------------

    function getJSON(url, params) {
      const query = new URLSearchParams(params).toString();
      return fetch(url + "?" + query, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(
        function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        }
      );
    }

    function post(url, body, asForm) {
      const headers = { "X-CSRFToken": csrf, Accept: "application/json" };
      let payload;
      if (asForm) {
        payload = new URLSearchParams(body);
      } else {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
      return fetch(url, { method: "POST", headers: headers, body: payload, credentials: "same-origin" }).then(
        function (response) {
          return response.json().then(function (reply) {
            return { ok: response.ok, body: reply };
          });
        }
      );
    }

    function basket() {
      const out = {
        member_no: state.member ? state.member.member_no : "",
        walk_in: state.walkIn,
        lines: state.lines.map(function (line) {
          const out = { sku: line.sku, quantity: line.quantity, discount: line.discount || "0" };
          if (line.unit_price !== null && line.unit_price !== undefined && line.unit_price !== "") {
            out.unit_price = line.unit_price;
          }
          return out;
        }),
        coupon_code: state.couponCode,
        points_to_use: state.points,
        care_plans: state.carePlans,
      };
      if (state.member) {
        // Sent for a member (even empty), so the quote shows the stored-value balance.
        out.stored_value = state.storedValue;
      }
      return out;
    }

    // --- messages --------------------------------------------------------------------------

    function say(id, text, kind) {
      const node = el(id);
      node.textContent = text || "";
      node.classList.toggle("till-bad", kind === "bad");
      node.classList.toggle("till-good", kind === "good");
    }

    // --- the customer ------------------------------------------------------------------------

    function showCustomer() {
      const card = el("till-customer-card");
      const chosen = state.member || state.walkIn;
      card.hidden = !chosen;
      el("till-member-picks").hidden = true;
      if (state.member) {
        el("till-customer-name").textContent = state.member.name + " · " + state.member.member_no;
        el("till-customer-detail").textContent =
          state.member.tier + " · " + T.points_balance + " " + state.member.points_balance + " · " + state.member.phone;
      } else if (state.walkIn) {
        el("till-customer-name").textContent = T.walk_in;
        el("till-customer-detail").textContent = "";
      }
      couponInput.disabled = partnerInput.disabled = pointsInput.disabled = storedValueInput.disabled = state.walkIn;
      el("till-stored-value-all").disabled = state.walkIn;
      if (topUp) {
        topUp.hidden = !state.member;
      }
      el("till-coupon-apply").disabled = el("till-partner-accept").disabled = el("till-points-max").disabled =
        state.walkIn;
      say("till-member-message", "");
    }

    function chooseMember(member) {
      state.member = member;
      state.carePlans = [];
      state.walkIn = false;
      state.storedValue = "";
      storedValueInput.value = "";
      memberInput.value = "";
      showCustomer();
      requestQuote();
      productInput.focus();
    }

    function chooseWalkIn() {
      state.member = null;
      state.carePlans = [];
      state.walkIn = true;
      state.couponCode = "";
      state.points = 0;
      state.storedValue = "";
      couponInput.value = "";
      pointsInput.value = "0";
      storedValueInput.value = "";
      memberInput.value = "";
      showCustomer();
      requestQuote();
      productInput.focus();
    }

    function pickList(listId, items, label, onPick) {
      const list = el(listId);
      list.replaceChildren();
      items.forEach(function (item) {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "till-pick";
        button.textContent = label(item);
        button.addEventListener("click", function () {
          list.hidden = true;
          onPick(item);
        });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = items.length === 0;
      const first = list.querySelector("button");
      if (first) {
        first.focus();
      }
    }

    function memberLabel(member) {
      const visit = member.last_visit || T.never;
      return (
        member.name + " · " + member.phone + " · " + member.tier + " · " + T.last_visit + " " + visit +
        " · " + member.member_no
      );
    }

    function lookupMember(typed) {
      const term = (typed === undefined ? memberInput.value : typed).trim();
      if (!term) {
        return;
      }
      getJSON(URLS.lookup, { q: term }).then(function (reply) {
        const found = reply.body.members || [];
        if (found.length === 1 && reply.body.matched_by !== "name" && reply.body.matched_by !== "last4") {
          chooseMember(found[0]);
        } else if (found.length === 0) {
          say("till-member-message", T.no_member, "bad");
        } else {
          say("till-member-message", T.pick_member);
          pickList("till-member-picks", found, memberLabel, chooseMember);
        }
      });
    }

    // --- the basket --------------------------------------------------------------------------

    function addProduct(product) {
      const existing = state.lines.find(function (line) {
        return line.sku === product.sku && (line.unit_price === null || line.unit_price === undefined);
      });
      if (existing) {
        existing.quantity += 1;
      } else {
        state.lines.push({ sku: product.sku, name: product.name, quantity: 1, discount: "0", unit_price: null });
      }
      el("till-product-picks").hidden = true;
      say("till-product-message", "");
      renderLines();
      requestQuote();
      productInput.focus();
    }

    function searchProduct(typed) {
      const term = (typed === undefined ? productInput.value : typed).trim();
      if (!term) {
        if (state.walkIn) {
          confirmButton.focus();
        } else {
          couponInput.focus();
        }
        return;
      }
      getJSON(URLS.products, { q: term }).then(function (reply) {
        const found = reply.body.products || [];
        const clearTerm = function () {
          if (productInput.value.trim() === term) {
            productInput.value = "";
          }
        };
        const exact = found.find(function (product) {
          return product.sku.toLowerCase() === term.toLowerCase();
        });
        if (exact || found.length === 1) {
          clearTerm();
          addProduct(exact || found[0]);
        } else if (found.length === 0) {
          say("till-product-message", T.no_product, "bad");
        } else {
          pickList(
            "till-product-picks",
            found,
            function (product) {
              return product.sku + " · " + product.name + " · ¥" + product.unit_price;
            },
            function (product) {
              clearTerm();
              addProduct(product);
            }
          );
        }
      });
    }

    function cellInput(line, field, type) {
      const input = document.createElement("input");
      input.type = type;
      input.className = "till-cell-" + field;
      input.setAttribute("aria-label", field);
      if (type === "number") {
        input.min = "0";
        input.step = field === "quantity" ? "1" : "0.01";
      }
      input.value = line[field] === null || line[field] === undefined ? "" : line[field];
      input.addEventListener("input", function () {
        if (field === "quantity") {
          const quantity = parseInt(input.value, 10);
          line.quantity = Number.isFinite(quantity) && quantity > 0 ? quantity : 1;
        } else {
          line[field] = input.value.trim();
        }
        requestQuote();
      });
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          productInput.focus();
        }
      });
      return input;
    }

    function renderLines() {
      linesBody.replaceChildren();
      const quoted = lastQuote && lastQuote.lines && lastQuote.lines.length === state.lines.length ? lastQuote.lines : null;
      state.lines.forEach(function (line, index) {
        const row = document.createElement("tr");
        row.dataset.sku = line.sku;
        const q = quoted ? quoted[index] : null;
        const sku = document.createElement("td");
        sku.textContent = line.sku;
        const name = document.createElement("td");
        name.textContent = line.name || (q ? q.name : "");
        const price = document.createElement("td");
        price.className = "num";
        if (mayOverride) {
          const input = cellInput(line, "unit_price", "number");
          input.placeholder = q ? q.catalogue_price : "";
          if (line.unit_price === null && q) {
            input.value = "";
          }
          price.appendChild(input);
        } else {
          price.textContent = q ? "¥" + q.unit_price : "…";
        }
        const quantity = document.createElement("td");
        quantity.className = "num";
        quantity.appendChild(cellInput(line, "quantity", "number"));
        const discount = document.createElement("td");
        discount.className = "num";
        discount.appendChild(cellInput(line, "discount", "number"));
        const total = document.createElement("td");
        total.className = "num till-line-total";
        total.textContent = q ? "¥" + q.line_total : "…";
        const remove = document.createElement("td");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button till-remove";
        button.textContent = T.remove;
        button.addEventListener("click", function () {
          state.lines.splice(index, 1);
          state.carePlans = []; // line numbers moved: the cashier ticks the plans again
          renderLines();
          requestQuote();
          productInput.focus();
        });
        remove.appendChild(button);
        row.append(sku, name, price, quantity, discount, total, remove);
        linesBody.appendChild(row);
      });
      el("till-empty").hidden = state.lines.length > 0;
    }

    function refreshLineFigures() {
      if (!lastQuote || lastQuote.lines.length !== state.lines.length) {
        return;
      }
      linesBody.querySelectorAll("tr").forEach(function (row, index) {
        const q = lastQuote.lines[index];
        row.querySelector(".till-line-total").textContent = "¥" + q.line_total;
        if (!mayOverride) {
          row.children[2].textContent = "¥" + q.unit_price;
        } else {
          row.querySelector(".till-cell-unit_price").placeholder = q.catalogue_price;
        }
        if (!state.lines[index].name) {
          state.lines[index].name = q.name;
          row.children[1].textContent = q.name;
        }
      });
    }

    // --- the quote ---------------------------------------------------------------------------

    // A change makes the shown quote stale: confirming waits for the fresh one (submitWhenQuoted).
    let quotePending = false;
    let submitWhenQuoted = false;

    function requestQuote() {
      window.clearTimeout(quoteTimer);
      quotePending = true;
      quoteTimer = window.setTimeout(fetchQuote, QUOTE_DELAY_MS);
    }

    function setFigure(name, text) {
      const node = document.querySelector('#till-figures [data-figure="' + name + '"]');
      node.textContent = text;
    }

    function clearFigures() {
      ["subtotal", "tier_discount", "coupon_discount", "total", "points_value", "stored_value_used", "amount_due"].forEach(function (name) {
        setFigure(name, "¥0.00");
      });
      ["points_used", "points_to_earn"].forEach(function (name) {
        setFigure(name, "0");
      });
      setFigure("free_delivery", "—");
      setFigure("tier_after", "—");
      setFigure("care_plans_total", "¥0.00");
      setFigure("amount_to_take", "¥0.00");
      showCarePlans(null);
    }

    // Care plans the lines may carry (rewards.till.care_plans): a box per plan; ticking one sells it
    // with the sale, at the price the quote shows.
    function showCarePlans(quote) {
      const box = el("till-care-plans");
      const list = el("till-care-plan-offers");
      list.replaceChildren();
      const offers = quote && quote.care_plan_offers ? quote.care_plan_offers : [];
      box.hidden = offers.length === 0;
      offers.forEach(function (offer) {
        offer.plans.forEach(function (plan) {
          const item = document.createElement("li");
          const label = document.createElement("label");
          const tick = document.createElement("input");
          tick.type = "checkbox";
          tick.className = "till-care-plan";
          tick.dataset.line = String(offer.line);
          tick.dataset.plan = String(plan.id);
          tick.checked = state.carePlans.some(function (c) {
            return c.line === offer.line && c.plan === plan.id;
          });
          tick.addEventListener("change", function () {
            state.carePlans = state.carePlans.filter(function (c) {
              return !(c.line === offer.line && c.plan === plan.id);
            });
            if (tick.checked) {
              state.carePlans.push({ line: offer.line, plan: plan.id });
            }
            requestQuote();
          });
          label.append(tick, " " + format(T.care_plan_offer, { plan: plan.name, product: offer.product, price: plan.price }));
          label.title = plan.coverage;
          item.appendChild(label);
          list.appendChild(item);
        });
      });
    }

    function fetchQuote() {
      const seq = ++quoteSeq;
      if (!state.lines.length || !(state.member || state.walkIn)) {
        quotePending = submitWhenQuoted = false;
        lastQuote = null;
        clearFigures();
        say("till-quote-message", "");
        confirmButton.disabled = true;
        return;
      }
      root.classList.add("till-quoting");
      post(URLS.quote, basket(), false).then(
        function (reply) {
          if (seq !== quoteSeq) {
            return; // a newer change is on its way
          }
          root.classList.remove("till-quoting");
          quotePending = false;
          if (!reply.ok) {
            submitWhenQuoted = false;
            lastQuote = null;
            say("till-quote-message", reply.body.error || T.quote_failed, "bad");
            confirmButton.disabled = true;
            return;
          }
          showQuote(reply.body);
          if (submitWhenQuoted) {
            submitWhenQuoted = false;
            form.requestSubmit(confirmButton);
          }
        },
        function () {
          quotePending = submitWhenQuoted = false;
          root.classList.remove("till-quoting");
          say("till-quote-message", T.quote_failed, "bad");
        }
      );
    }

    function showQuote(quote) {
      lastQuote = quote;
      refreshLineFigures();
      setFigure("subtotal", "¥" + quote.subtotal);
      setFigure("tier_discount", "−¥" + quote.tier_discount);
      setFigure("coupon_discount", "−¥" + quote.coupon_discount);
      setFigure("total", "¥" + quote.total);
      setFigure("points_used", String(quote.points_used));
      setFigure("points_value", "−¥" + quote.points_value);
      setFigure("free_delivery", quote.free_delivery ? T.yes : T.no);
      setFigure("stored_value_used", "−¥" + quote.stored_value_used);
      setFigure("amount_due", "¥" + quote.amount_due);
      setFigure("points_to_earn", String(quote.points_to_earn));
      setFigure("care_plans_total", "¥" + (quote.care_plans_total || "0.00"));
      setFigure("amount_to_take", "¥" + (quote.amount_to_take || quote.amount_due));
      showCarePlans(quote);
      if (quote.tier_after) {
        setFigure("tier_after", quote.tier_upgrade ? format(T.tier_reached, { tier: quote.tier_after.name }) : quote.tier_after.name);
      } else {
        setFigure("tier_after", "—");
      }
      document.querySelector('#till-figures [data-figure="tier_after"]').classList.toggle("till-upgrade", !!quote.tier_upgrade);
      if (quote.coupon) {
        if (quote.coupon.valid) {
          say("till-coupon-message", T.coupon_ok + " · " + quote.coupon.code + " · −¥" + quote.coupon_discount, "good");
        } else {
          say("till-coupon-message", T.coupon_refused + ": " + quote.coupon.detail, "bad");
        }
      } else {
        say("till-coupon-message", "");
      }
      const hint = state.walkIn ? "" : format(T.points_max, { points: quote.points_max }) + " · " + T.points_balance + " " + quote.points_balance;
      say("till-points-hint", quote.points_message ? hint + " · " + quote.points_message : hint, quote.points_message ? "bad" : "");
      if (fitStoredValue) {
        fitStoredValue = false;
        storedValueInput.value = quote.stored_value_used;
        state.storedValue = quote.stored_value_used;
      }
      if (quote.stored_value_balance !== null && quote.stored_value_balance !== undefined) {
        const balance = format(T.stored_value_balance, { balance: quote.stored_value_balance });
        say(
          "till-stored-value-hint",
          quote.stored_value_message ? balance + " · " + quote.stored_value_message : balance,
          quote.stored_value_message ? "bad" : ""
        );
      } else {
        say("till-stored-value-hint", "");
      }
      say("till-quote-message", "");
      confirmButton.disabled = false;
    }

    function setStoredValue() {
      state.storedValue = storedValueInput.value.trim();
      requestQuote();
    }

    // --- top-up: money taken outside the system, a rule chosen from those that apply ------------

    let rulesTimer = null;

    function loadRules() {
      const select = el("till-top-up-rule");
      const amount = el("till-top-up-amount").value.trim();
      if (!state.member || !amount) {
        select.length = 1;
        return;
      }
      getJSON(URLS.top_up, { member_no: state.member.member_no, amount: amount }).then(function (reply) {
        select.length = 1;
        (reply.ok ? reply.body.rules : []).forEach(function (rule, index) {
          const option = new Option(format(T.rule_label, rule), String(rule.id));
          select.add(option);
          if (index === 0) {
            option.selected = true; // the largest bonus first
          }
        });
      });
    }

    function submitTopUp() {
      if (!state.member) {
        return;
      }
      const button = el("till-top-up-submit");
      button.disabled = true;
      post(
        URLS.top_up,
        {
          key: el("till-top-up-key").value,
          member_no: state.member.member_no,
          amount: el("till-top-up-amount").value.trim(),
          payment_method: el("till-top-up-method").value,
          rule: el("till-top-up-rule").value,
        },
        true
      ).then(
        function (reply) {
          button.disabled = false;
          if (!reply.ok) {
            say("till-top-up-message", reply.body.error || T.top_up_failed, "bad");
            return;
          }
          el("till-top-up-key").value = reply.body.next_key;
          el("till-top-up-amount").value = "";
          el("till-top-up-rule").length = 1;
          say("till-top-up-message", reply.body.message, "good");
          say("till-stored-value-hint", format(T.stored_value_balance, { balance: reply.body.stored_value_balance }));
          requestQuote();
        },
        function () {
          button.disabled = false;
          say("till-top-up-message", T.top_up_failed, "bad");
        }
      );
    }

    // --- coupon, partner code, points --------------------------------------------------------

    function applyCoupon() {
      state.couponCode = couponInput.value.trim();
      requestQuote();
      pointsInput.focus();
    }

    function acceptPartnerCode() {
      const code = partnerInput.value.trim();
      if (!code || !state.member) {
        return;
      }
      post(URLS.partner_code, { key: form.querySelector("input[name=key]").value, member_no: state.member.member_no, code: code }, true).then(
        function (reply) {
          if (!reply.ok) {
            say("till-partner-message", reply.body.error, "bad");
            return;
          }
          partnerInput.value = "";
          couponInput.value = reply.body.coupon_code;
          state.couponCode = reply.body.coupon_code;
          say("till-partner-message", format(T.partner_ok, { code: reply.body.coupon_code }), "good");
          requestQuote();
          pointsInput.focus();
        }
      );
    }

    function setPoints() {
      const points = parseInt(pointsInput.value, 10);
      state.points = Number.isFinite(points) && points > 0 ? points : 0;
      requestQuote();
    }

    // --- the scanner -------------------------------------------------------------------------
    // A scanner types its code and Enter. In the member or product box the whole value is read on
    // Enter and the server says what it is (a member card selects the member, a SKU adds a line, a
    // coupon applies; anything else is searched as typed). Elsewhere on the page (a button, the
    // points box) the keys go nowhere, so a fast burst ending in Enter is taken as a scan.

    const burst = { text: "", last: 0, first: 0 };
    const TEXT_BOXES = [memberInput, productInput, couponInput, partnerInput, storedValueInput];
    if (topUp) {
      TEXT_BOXES.push(el("till-top-up-amount"));
    }
    const LOOKS_LIKE_PHONE = /^[+\d\s()-]+$/;

    function resolveCode(code, fallback) {
      getJSON(URLS.scan, { code: code }).then(function (reply) {
        const body = reply.body;
        if (body.kind === "member") {
          chooseMember(body.member);
        } else if (body.kind === "product") {
          addProduct(body.product);
        } else if (body.kind === "coupon" && state.member) {
          couponInput.value = body.code;
          applyCoupon();
        } else if (fallback) {
          fallback();
        } else {
          say("till-product-message", T.unknown_code, "bad");
        }
      });
    }

    function memberEnter() {
      const term = memberInput.value.trim();
      if (!term) {
        if (state.member || state.walkIn) {
          productInput.focus(); // Enter moves on
        }
        return;
      }
      if (LOOKS_LIKE_PHONE.test(term)) {
        lookupMember(term); // a phone or its last four digits: never taken for a SKU
      } else {
        resolveCode(term, function () {
          lookupMember(term);
        });
      }
    }

    function productEnter() {
      const term = productInput.value.trim();
      if (!term) {
        searchProduct(""); // an empty box moves on
        return;
      }
      // Cleared at once: the next scan may start before the server answers this one.
      productInput.value = "";
      resolveCode(term, function () {
        productInput.value = term;
        searchProduct(term);
      });
    }

    document.addEventListener(
      "keydown",
      function (event) {
        if (TEXT_BOXES.indexOf(event.target) !== -1) {
          burst.text = "";
          return;
        }
        const now = event.timeStamp;
        if (event.key === "Enter") {
          const text = burst.text;
          const perKey = (burst.last - burst.first) / Math.max(1, text.length - 1);
          burst.text = "";
          if (text.length >= SCAN_MIN_LENGTH && now - burst.last < SCAN_GAP_MS * 3 && perKey < SCAN_GAP_MS) {
            event.preventDefault();
            event.stopPropagation();
            if (event.target.tagName === "INPUT" && event.target.value.endsWith(text)) {
              event.target.value = event.target.value.slice(0, event.target.value.length - text.length);
            }
            resolveCode(text, null);
          }
          return;
        }
        if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) {
          return;
        }
        if (now - burst.last > SCAN_GAP_MS * 3) {
          burst.text = "";
          burst.first = now;
        }
        burst.text += event.key;
        burst.last = now;
      },
      true
    );

    // --- keys and buttons --------------------------------------------------------------------

    function onEnter(input, action) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          action();
        }
      });
    }

    onEnter(memberInput, memberEnter);
    onEnter(productInput, productEnter);
    onEnter(couponInput, applyCoupon);
    onEnter(partnerInput, acceptPartnerCode);
    onEnter(pointsInput, function () {
      setPoints();
      confirmButton.focus();
    });
    pointsInput.addEventListener("input", setPoints);
    onEnter(storedValueInput, function () {
      setStoredValue();
      confirmButton.focus();
    });
    storedValueInput.addEventListener("input", setStoredValue);
    el("till-stored-value-all").addEventListener("click", function () {
      if (lastQuote && lastQuote.stored_value_balance) {
        fitStoredValue = true;
        storedValueInput.value = lastQuote.stored_value_balance;
        setStoredValue();
      }
    });
    if (topUp) {
      el("till-top-up-amount").addEventListener("input", function () {
        window.clearTimeout(rulesTimer);
        rulesTimer = window.setTimeout(loadRules, 250);
      });
      onEnter(el("till-top-up-amount"), loadRules);
      el("till-top-up-submit").addEventListener("click", submitTopUp);
    }
    el("till-walkin").addEventListener("click", chooseWalkIn);
    el("till-coupon-apply").addEventListener("click", applyCoupon);
    el("till-partner-accept").addEventListener("click", acceptPartnerCode);
    el("till-points-max").addEventListener("click", function () {
      if (lastQuote) {
        pointsInput.value = String(lastQuote.points_max);
        setPoints();
      }
    });
    el("till-customer-change").addEventListener("click", function () {
      state.member = null;
      state.walkIn = false;
      el("till-customer-card").hidden = true;
      requestQuote();
      memberInput.focus();
    });
    // Arrow keys walk a pick list.
    document.querySelectorAll(".till-picks").forEach(function (list) {
      list.addEventListener("keydown", function (event) {
        if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
          return;
        }
        event.preventDefault();
        const buttons = Array.from(list.querySelectorAll("button"));
        const at = buttons.indexOf(document.activeElement);
        const next = buttons[(at + (event.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length];
        next.focus();
      });
    });

    form.addEventListener("submit", function (event) {
      if (confirmButton.dataset.sent === "1" || !lastQuote || quotePending) {
        event.preventDefault();
        submitWhenQuoted = quotePending && confirmButton.dataset.sent !== "1";
        return;
      }
      // The points the quote allowed (the customer agreed to what it showed), not what was typed.
      form.querySelector("input[name=basket]").value = JSON.stringify(
        Object.assign(
          basket(),
          { points_to_use: lastQuote.points_used, member_name: state.member ? state.member : null },
          state.member ? { stored_value: lastQuote.stored_value_used } : {}
        )
      );
      // The key is the real guard; this only spares a second request.
      confirmButton.dataset.sent = "1";
      window.setTimeout(function () {
        confirmButton.disabled = true;
      }, 0);
    });

    // --- start: a member from the member page, or the basket of a refused confirm -------------

    const saved = data("till-saved-basket");
    const initialMember = data("till-initial-member");
    if (saved) {
      try {
        const restored = JSON.parse(saved);
        state.walkIn = !!restored.walk_in;
        state.member = restored.member_name && restored.member_name.member_no ? restored.member_name : null;
        state.lines = (restored.lines || []).map(function (line) {
          return {
            sku: String(line.sku),
            name: "",
            quantity: parseInt(line.quantity, 10) || 1,
            discount: String(line.discount || "0"),
            unit_price: line.unit_price === undefined ? null : String(line.unit_price),
          };
        });
        state.couponCode = restored.coupon_code || "";
        state.carePlans = Array.isArray(restored.care_plans) ? restored.care_plans : [];
        state.points = parseInt(restored.points_to_use, 10) || 0;
        couponInput.value = state.couponCode;
        pointsInput.value = String(state.points);
        state.storedValue = restored.stored_value ? String(restored.stored_value) : "";
        storedValueInput.value = state.storedValue;
        if (state.member || state.walkIn) {
          showCustomer();
        }
        renderLines();
        requestQuote();
      } catch (error) {
        // an unreadable saved basket: start empty
      }
    } else if (initialMember) {
      chooseMember(initialMember);
      return;
    }
    renderLines();
    memberInput.focus();
  });
})();
