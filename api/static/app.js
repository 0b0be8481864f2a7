// The page script: plain JavaScript over the JSON API of the same server.
// Every text from the API is inserted with textContent, never as HTML.
"use strict";

(() => {
  const settings = JSON.parse(document.getElementById("page-settings").textContent);

  const STORAGE_KEY = "true-recommend.ratings";
  const N_RECOMMENDATIONS = 10;
  const SEARCH_LIMIT = 10;
  const SIMILAR_LIMIT = 10;
  const SEARCH_DELAY_MS = 250;
  // Arrow keys move through a star group one half star at a time, and each
  // step is a change; waiting a moment sends one request for the final value.
  const REFRESH_DELAY_MS = 150;
  const COMPONENT_LABELS = {
    collaborative: "Collaborative",
    ease: "Rated together",
    rp3beta: "Rated by the same people",
    content: "Content",
    popularity: "Popularity",
    rating: "Predicted rating",
  };

  // NOTE: movie ids are JavaScript numbers, exact up to 2^53; ids above that
  // would lose precision here. The bundled data's ids are below 200,000.
  // movie_id -> {movie, rating}, in the order the movies were first rated.
  const ratings = new Map();

  const elements = {
    searchForm: document.getElementById("search-form"),
    searchInput: document.getElementById("search-input"),
    searchStatus: document.getElementById("search-status"),
    searchResults: document.getElementById("search-results"),
    ratingsEmpty: document.getElementById("ratings-empty"),
    ratingsList: document.getElementById("ratings-list"),
    clearRatings: document.getElementById("clear-ratings"),
    filters: document.getElementById("filters"),
    includeCount: document.getElementById("include-count"),
    excludeCount: document.getElementById("exclude-count"),
    recommendationsHeading: document.getElementById("recommendations-heading"),
    recommendationsStatus: document.getElementById("recommendations-status"),
    recommendations: document.getElementById("recommendations"),
    similarPanel: document.getElementById("similar-panel"),
    similarHeading: document.getElementById("similar-heading"),
    similarStatus: document.getElementById("similar-status"),
    similar: document.getElementById("similar"),
    closeSimilar: document.getElementById("close-similar"),
  };

  // Helpers ------------------------------------------------------------------

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function visuallyHidden(text) {
    return element("span", { className: "visually-hidden" }, text);
  }

  async function requestJson(path, options = {}) {
    const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error(`the server sent a response that is not JSON (status ${response.status})`);
    }
    if (!response.ok) {
      const message = body && body.error && body.error.message ? body.error.message : `status ${response.status}`;
      throw new Error(message);
    }
    return body;
  }

  function debounce(action, delay) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => action(...args), delay);
    };
  }

  function formatRating(value) {
    return `${value} ${value === 1 ? "star" : "stars"}`;
  }

  function describeMovie(movie) {
    const parts = [];
    if (movie.year !== null && movie.year !== undefined) parts.push(String(movie.year));
    parts.push(movie.genres && movie.genres.length ? movie.genres.join(", ") : "no genres listed");
    return parts.join(" · ");
  }

  // Stored ratings -------------------------------------------------------------

  function saveRatings() {
    const entries = [...ratings.values()].map(({ movie, rating }) => ({ ...movie, rating }));
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(entries));
    } catch (error) {
      // Storage can be disabled or full; the ratings then last until the page closes.
    }
  }

  function loadRatings() {
    let entries = [];
    try {
      entries = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "[]");
    } catch (error) {
      entries = [];
    }
    if (!Array.isArray(entries)) return;
    for (const entry of entries) {
      if (!entry || !Number.isInteger(entry.movie_id) || typeof entry.rating !== "number") continue;
      const { rating, ...movie } = entry;
      if (ratingValues().includes(rating)) ratings.set(movie.movie_id, { movie, rating });
    }
  }

  // Star rating widget -----------------------------------------------------------

  function ratingValues() {
    const { minimum, maximum, step } = settings.rating_scale;
    const increment = step || 0.5;
    const values = [];
    for (let index = 0; minimum + index * increment <= maximum + 1e-9; index += 1) {
      values.push(Math.round((minimum + index * increment) * 1000) / 1000);
    }
    return values;
  }

  // Stars fit scales of half stars from 0.5 or whole stars from 1; any other
  // scale gets a plain list box.
  // NOTE: the browser tests cover only the half-star scale of the bundled data.
  function usesStars() {
    const { minimum, step } = settings.rating_scale;
    return (step === 0.5 && minimum === 0.5) || (step === 1 && minimum === 1);
  }

  let widgetCount = 0;

  function ratingWidget(movie) {
    widgetCount += 1;
    const name = `rating-${widgetCount}`;
    const current = ratings.has(movie.movie_id) ? ratings.get(movie.movie_id).rating : null;

    if (!usesStars()) {
      const select = element("select", { id: name, className: "rating-select", "data-movie-id": movie.movie_id });
      select.append(element("option", { value: "" }, "not rated"));
      for (const value of ratingValues()) {
        select.append(element("option", { value, selected: value === current }, formatRating(value)));
      }
      select.addEventListener("change", () => {
        if (select.value === "") removeRating(movie.movie_id);
        else setRating(movie, Number(select.value));
      });
      return element("div", { className: "rating" }, element("label", { for: name }, `Your rating of ${movie.title}`), select);
    }

    const group = element("fieldset", { className: "stars", "data-movie-id": movie.movie_id });
    group.append(element("legend", { className: "visually-hidden" }, `Your rating of ${movie.title}`));
    const step = settings.rating_scale.step;
    for (const value of ratingValues()) {
      const id = `${name}-${String(value).replace(".", "-")}`;
      const shape = step === 1 ? "full" : Number.isInteger(value) ? "right" : "left";
      const input = element("input", { type: "radio", name, id, value, checked: value === current });
      input.addEventListener("change", () => setRating(movie, value));
      const label = element(
        "label",
        { for: id },
        visuallyHidden(formatRating(value)),
        element("span", { className: "shape", "aria-hidden": "true" }),
      );
      group.append(element("span", { className: `star ${shape}`, "data-value": value }, input, label));
    }
    paintStars(group, current);
    return element("div", { className: "rating" }, group);
  }

  function paintStars(group, rating) {
    for (const star of group.querySelectorAll(".star")) {
      const value = Number(star.dataset.value);
      star.classList.toggle("on", rating !== null && value <= rating);
      star.querySelector("input").checked = value === rating;
    }
  }

  // Bring every widget of a movie (search, ratings, recommendations, similar) in line.
  function syncWidgets(movieId) {
    const rating = ratings.has(movieId) ? ratings.get(movieId).rating : null;
    for (const widget of document.querySelectorAll(`[data-movie-id="${movieId}"].stars`)) {
      paintStars(widget, rating);
    }
    for (const select of document.querySelectorAll(`[data-movie-id="${movieId}"].rating-select`)) {
      select.value = rating === null ? "" : String(rating);
    }
  }

  // Ratings ------------------------------------------------------------------------

  function movieFields(item) {
    return { movie_id: item.movie_id, title: item.title, year: item.year, genres: item.genres };
  }

  function setRating(movie, rating) {
    const isNew = !ratings.has(movie.movie_id);
    ratings.set(movie.movie_id, { movie: movieFields(movie), rating });
    saveRatings();
    syncWidgets(movie.movie_id);
    if (isNew) renderRatings();
    scheduleRefresh();
  }

  function removeRating(movieId) {
    ratings.delete(movieId);
    saveRatings();
    syncWidgets(movieId);
    renderRatings();
    scheduleRefresh();
  }

  function renderRatings() {
    const list = elements.ratingsList;
    const focusedId = list.contains(document.activeElement) ? document.activeElement.id : null;
    list.replaceChildren();
    for (const { movie } of ratings.values()) {
      const remove = element(
        "button",
        { type: "button", className: "secondary small" },
        "Remove",
        visuallyHidden(` rating of ${movie.title}`),
      );
      remove.addEventListener("click", () => {
        // Focus moves to the Remove button of the neighbouring entry, else to the search field.
        const row = remove.closest("li");
        const neighbour = row.nextElementSibling || row.previousElementSibling;
        const neighbourId = neighbour ? neighbour.id : null;
        removeRating(movie.movie_id);
        const rebuilt = neighbourId ? document.getElementById(neighbourId) : null;
        (rebuilt ? rebuilt.querySelector("button") : elements.searchInput).focus();
      });
      list.append(
        element(
          "li",
          { id: `rated-${movie.movie_id}`, "data-movie-id": movie.movie_id },
          element("span", { className: "rated-title" }, movie.title),
          ratingWidget(movie),
          remove,
        ),
      );
    }
    elements.ratingsEmpty.hidden = ratings.size > 0;
    elements.clearRatings.hidden = ratings.size === 0;
    if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
  }

  // Movie cards ----------------------------------------------------------------------

  function reasonText(item, fallback) {
    if (fallback === "popularity") return "Popular: among the movies rated by the most people.";
    const reason = item.reason;
    if (!reason) return "Picked by the blend of your ratings; no single movie you liked explains it.";
    const because = `Because you rated ${reason.title} highly (${formatRating(reason.rating)})`;
    if (reason.kind === "content") return `${because}: similar genres, title words, decade or tags.`;
    return `${because}: liked by the same people.`;
  }

  function componentBars(components, scale) {
    const list = element("dl", { className: "components" });
    for (const name of Object.keys(COMPONENT_LABELS)) {
      if (!(name in components)) continue;
      const value = components[name];
      const fill = element("span", { className: value < 0 ? "fill negative" : "fill" });
      fill.style.width = `${Math.min(100, (Math.abs(value) / scale) * 100)}%`;
      list.append(
        element(
          "div",
          { className: "component" },
          element("dt", {}, COMPONENT_LABELS[name]),
          element(
            "dd",
            {},
            element("span", { className: "bar", "aria-hidden": "true" }, fill),
            element("span", { className: "value" }, value.toFixed(1)),
          ),
        ),
      );
    }
    return list;
  }

  function movieCard(item, { fallback = null, explain = false, scale = 1, similarity = false } = {}) {
    const card = element(
      "li",
      { className: "movie", "data-movie-id": item.movie_id },
      element("h3", { className: "title" }, item.title),
      element("p", { className: "meta" }, describeMovie(item)),
    );
    if (explain) {
      card.append(element("p", { className: "reason" }, reasonText(item, fallback)));
      if (!fallback && item.components) card.append(componentBars(item.components, scale));
    }
    if (similarity && typeof item.score === "number") {
      card.append(element("p", { className: "meta" }, `Similarity ${item.score.toFixed(2)}`));
    }
    const similar = element(
      "button",
      { type: "button", className: "secondary small" },
      "Similar movies",
      visuallyHidden(` to ${item.title}`),
    );
    similar.addEventListener("click", () => showSimilar(item, similar));
    card.append(element("div", { className: "actions" }, ratingWidget(item), similar));
    return card;
  }

  // Keep keyboard focus on the page when a list that held it is rebuilt.
  function replaceList(list, cards, fallbackFocus) {
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(...cards);
    if (hadFocus) fallbackFocus.focus();
  }

  // Search ---------------------------------------------------------------------------------

  let searchSequence = 0;

  async function search() {
    const query = elements.searchInput.value.trim();
    const sequence = ++searchSequence;
    if (!query) {
      elements.searchStatus.textContent = "";
      replaceList(elements.searchResults, [], elements.searchInput);
      return;
    }

    elements.searchStatus.textContent = "Searching…";
    try {
      const params = new URLSearchParams({ q: query, limit: String(SEARCH_LIMIT) });
      const body = await requestJson(`/movies?${params}`);
      if (sequence !== searchSequence) return;
      const count = body.items.length;
      elements.searchStatus.textContent =
        count === 0 ? `No movie title contains “${query}”.` : `${count} ${count === 1 ? "movie matches" : "movies match"} “${query}”.`;
      replaceList(elements.searchResults, body.items.map((item) => movieCard(item)), elements.searchInput);
    } catch (error) {
      if (sequence !== searchSequence) return;
      elements.searchStatus.textContent = `Search failed: ${error.message}`;
    }
  }

  // Filters --------------------------------------------------------------------------------

  function currentFilters() {
    const form = new FormData(elements.filters);
    const filters = {};
    const genres = form.getAll("genres");
    const excluded = form.getAll("exclude_genres");
    if (genres.length) filters.genres = genres;
    if (excluded.length) filters.exclude_genres = excluded;
    for (const name of ["min_year", "max_year"]) {
      const text = String(form.get(name) || "").trim();
      if (text !== "") filters[name] = /^[0-9]+$/.test(text) ? Number(text) : text;
    }
    return filters;
  }

  function describeFilters(filters) {
    const parts = [];
    if (filters.genres) parts.push(`only ${filters.genres.join(", ")}`);
    if (filters.exclude_genres) parts.push(`not ${filters.exclude_genres.join(", ")}`);
    if (filters.min_year !== undefined && filters.max_year !== undefined) parts.push(`${filters.min_year} to ${filters.max_year}`);
    else if (filters.min_year !== undefined) parts.push(`from ${filters.min_year}`);
    else if (filters.max_year !== undefined) parts.push(`up to ${filters.max_year}`);
    return parts.length ? ` Filters: ${parts.join("; ")}.` : "";
  }

  function updateFilterCounts() {
    const filters = currentFilters();
    elements.includeCount.textContent = filters.genres ? `(${filters.genres.length} chosen)` : "";
    elements.excludeCount.textContent = filters.exclude_genres ? `(${filters.exclude_genres.length} chosen)` : "";
  }

  // A genre cannot be both wanted and excluded: checking one box unchecks its twin.
  function onFilterChange(event) {
    const box = event.target;
    if (box.type === "checkbox" && box.checked) {
      const other = box.name === "genres" ? "exclude_genres" : "genres";
      for (const twin of elements.filters.querySelectorAll(`input[name="${other}"]`)) {
        if (twin.value === box.value) twin.checked = false;
      }
    }
    updateFilterCounts();
    scheduleRefresh();
  }

  // Recommendations ----------------------------------------------------------------------------

  let refreshSequence = 0;

  async function refresh() {
    const sequence = ++refreshSequence;
    const filters = currentFilters();
    const body = {
      ratings: [...ratings.values()].map(({ movie, rating }) => ({ movie_id: movie.movie_id, rating })),
      n: N_RECOMMENDATIONS,
    };
    if (Object.keys(filters).length) body.filters = filters;

    elements.recommendations.setAttribute("aria-busy", "true");
    elements.recommendationsStatus.classList.remove("error");
    elements.recommendationsStatus.textContent = "Updating recommendations…";
    let result;
    try {
      result = await requestJson("/recommendations", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (sequence !== refreshSequence) return;
      elements.recommendations.removeAttribute("aria-busy");
      elements.recommendationsStatus.classList.add("error");
      elements.recommendationsStatus.textContent = `Could not update the recommendations: ${error.message}`;
      return;
    }
    if (sequence !== refreshSequence) return;

    // Ratings of movies the served model no longer has are dropped, as the API ignored them.
    if (result.unknown_movie_ids && result.unknown_movie_ids.length) {
      for (const movieId of result.unknown_movie_ids) ratings.delete(movieId);
      saveRatings();
      renderRatings();
    }
    renderRecommendations(result, filters);
  }

  const scheduleRefresh = debounce(refresh, REFRESH_DELAY_MS);

  function renderRecommendations(result, filters) {
    const items = result.items;
    let scale = 1;
    for (const item of items) {
      for (const value of Object.values(item.components || {})) scale = Math.max(scale, Math.abs(value));
    }
    const cards = items.map((item) => movieCard(item, { fallback: result.fallback, explain: true, scale }));
    replaceList(elements.recommendations, cards, elements.recommendationsHeading);
    elements.recommendations.removeAttribute("aria-busy");
    elements.recommendations.dataset.nRatings = String(result.n_ratings);

    let text;
    if (items.length === 0) text = "No movie matches these filters.";
    else if (result.fallback === "popularity" && result.n_ratings === 0 && ratings.size === 0) {
      text = `No ratings yet: the ${items.length} most popular movies.`;
    } else if (result.fallback === "popularity") text = `None of your rated movies is known: the ${items.length} most popular movies.`;
    else {
      const rated = result.n_ratings === 1 ? "1 rating" : `${result.n_ratings} ratings`;
      text = `${items.length} recommendations from ${rated}.`;
    }
    elements.recommendationsStatus.textContent = text + describeFilters(filters);
  }

  // Similar movies --------------------------------------------------------------------------------

  let similarSequence = 0;
  let similarOpener = null;

  async function showSimilar(movie, opener) {
    const sequence = ++similarSequence;
    similarOpener = opener;
    elements.similarPanel.hidden = false;
    elements.similarHeading.textContent = `Similar to ${movie.title}`;
    elements.similarStatus.textContent = "Loading…";
    elements.similar.replaceChildren();
    elements.similarHeading.focus();
    try {
      const body = await requestJson(`/movies/${movie.movie_id}/similar?n=${SIMILAR_LIMIT}`);
      if (sequence !== similarSequence) return;
      elements.similar.replaceChildren(...body.items.map((item) => movieCard(item, { similarity: true })));
      elements.similarStatus.textContent = `${body.items.length} movies similar to ${movie.title}.`;
    } catch (error) {
      if (sequence !== similarSequence) return;
      elements.similarStatus.textContent = `Could not load similar movies: ${error.message}`;
    }
  }

  function closeSimilar() {
    similarSequence += 1;
    elements.similarPanel.hidden = true;
    elements.similar.replaceChildren();
    const target = similarOpener && similarOpener.isConnected ? similarOpener : elements.recommendationsHeading;
    similarOpener = null;
    target.focus();
  }

  // Wiring -------------------------------------------------------------------------------------------

  const scheduleSearch = debounce(search, SEARCH_DELAY_MS);
  elements.searchInput.addEventListener("input", scheduleSearch);
  elements.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  elements.filters.addEventListener("change", onFilterChange);
  elements.filters.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  // The reset event fires before the fields are cleared.
  elements.filters.addEventListener("reset", () => {
    setTimeout(() => {
      updateFilterCounts();
      refresh();
    }, 0);
  });
  elements.clearRatings.addEventListener("click", () => {
    const movieIds = [...ratings.keys()];
    ratings.clear();
    saveRatings();
    for (const movieId of movieIds) syncWidgets(movieId);
    renderRatings();
    elements.searchInput.focus();
    refresh();
  });
  elements.closeSimilar.addEventListener("click", closeSimilar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !elements.similarPanel.hidden) closeSimilar();
  });

  loadRatings();
  renderRatings();
  updateFilterCounts();
  refresh();
})();
