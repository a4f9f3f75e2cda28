# `checkout`: clone SEMAPHORE_GIT_URL at SEMAPHORE_GIT_SHA into SEMAPHORE_GIT_DIR and cd
# into it. A shell function (not a program) because it must change the job's directory.
checkout() {
  local missing=""
  for name in SEMAPHORE_GIT_URL SEMAPHORE_GIT_DIR SEMAPHORE_GIT_BRANCH SEMAPHORE_GIT_SHA; do
    [ -n "${!name}" ] || missing=1
  done
  if [ -n "$missing" ]; then
    echo "[CHECKOUT ERROR] Some of these variables are unset:"
    for name in SEMAPHORE_GIT_URL SEMAPHORE_GIT_DIR SEMAPHORE_GIT_BRANCH SEMAPHORE_GIT_SHA; do
      echo "$name=${!name}"
    done
    return 1
  fi
  if [ "${1:-}" = "--use-cache" ]; then
    rm -rf "$SEMAPHORE_GIT_DIR"
    checkout_use_cache
    return
  fi
  local depth="${SEMAPHORE_GIT_DEPTH:-50}"
  # git ignores --depth when it clones a local path; a file:// URL makes it honour it.
  local url="$SEMAPHORE_GIT_URL"
  case "$url" in /*) url="file://$url" ;; esac
  rm -rf "$SEMAPHORE_GIT_DIR"
  case "${SEMAPHORE_GIT_REF_TYPE:-branch}" in
    pull-request)
      git clone --depth "$depth" "$url" "$SEMAPHORE_GIT_DIR" || return 1
      cd "$SEMAPHORE_GIT_DIR" || return 1
      git fetch --depth "$depth" origin "+$SEMAPHORE_GIT_REF:" || git fetch origin "+$SEMAPHORE_GIT_REF:" || return 1
      git checkout -qf FETCH_HEAD || return 1
      ;;
    tag)
      git clone --depth "$depth" -b "$SEMAPHORE_GIT_TAG_NAME" "$url" "$SEMAPHORE_GIT_DIR" || {
        echo "Release $SEMAPHORE_GIT_TAG_NAME not found .... Exiting"; return 1; }
      cd "$SEMAPHORE_GIT_DIR" || return 1
      git checkout -qf "$SEMAPHORE_GIT_TAG_NAME" || return 1
      ;;
    *)
      echo "Performing shallow clone with depth: $depth"
      if ! git clone --depth "$depth" -b "$SEMAPHORE_GIT_BRANCH" "$url" "$SEMAPHORE_GIT_DIR"; then
        echo "Branch not found performing full clone"
        git clone "$SEMAPHORE_GIT_URL" "$SEMAPHORE_GIT_DIR" || return 1
      fi
      cd "$SEMAPHORE_GIT_DIR" || return 1
      if ! git cat-file -e "$SEMAPHORE_GIT_SHA^{commit}" 2>/dev/null; then
        echo "SHA: $SEMAPHORE_GIT_SHA not found performing full clone"
        git fetch --unshallow 2>/dev/null || git fetch origin || return 1
      fi
      ;;
  esac
  git reset --hard "$SEMAPHORE_GIT_SHA" || { echo "Revision: $SEMAPHORE_GIT_SHA not found .... Exiting"; return 1; }
  echo "HEAD is now at $SEMAPHORE_GIT_SHA"
}

# `checkout --use-cache`: Semaphore's git cache. The project's cache keeps a clone of the
# repository (key git-cache-<job id>-<epoch>); a job restores the newest, fetches only what
# is new since, and stores a fresh clone when the newest is older than SEMAPHORE_GIT_CACHE_AGE
# seconds (3 days), deleting all but SEMAPHORE_GIT_CACHE_KEEP (0) older ones.
checkout_use_cache() {
  local start="$PWD"
  echo "[Experimental stability] Using cached Git repository."
  if ! CACHE_FAIL_ON_ERROR=true cache restore git-cache-; then
    echo "Failed to restore from the cache"
    rm -rf "$SEMAPHORE_GIT_DIR"
  fi
  if [ -d "$SEMAPHORE_GIT_DIR/.git" ]; then
    echo "Restored cache"
    cd "$SEMAPHORE_GIT_DIR" || return 1
    git remote set-url origin "$SEMAPHORE_GIT_URL"
    git remote prune origin
    git fetch --tags origin || return 1
  else
    git clone "$SEMAPHORE_GIT_URL" "$SEMAPHORE_GIT_DIR" || return 1
    cd "$SEMAPHORE_GIT_DIR" || return 1
  fi
  case "${SEMAPHORE_GIT_REF_TYPE:-branch}" in
    pull-request)
      git fetch origin "+$SEMAPHORE_GIT_REF:" 2>/dev/null || {
        echo "Reference: $SEMAPHORE_GIT_REF not found .... Exiting"; return 1; }
      ;;
    tag)
      git checkout -qf "$SEMAPHORE_GIT_TAG_NAME" || {
        echo "Release $SEMAPHORE_GIT_TAG_NAME not found .... Exiting"; return 1; }
      ;;
    *)
      git checkout -qB "$SEMAPHORE_GIT_BRANCH" "origin/$SEMAPHORE_GIT_BRANCH" 2>/dev/null
      ;;
  esac
  git reset -q --hard "$SEMAPHORE_GIT_SHA" 2>/dev/null || {
    echo "Revision: $SEMAPHORE_GIT_SHA not found .... Exiting"; return 1; }
  echo "HEAD is now at $SEMAPHORE_GIT_SHA"
  local age="${SEMAPHORE_GIT_CACHE_AGE:-259200}" keep="${SEMAPHORE_GIT_CACHE_KEEP:-0}"
  local kept newest stamp
  # `cache list` names the newest first; a key's last part is when it was stored
  kept="$(cache list 2>/dev/null | awk '$1 ~ /^git-cache-/ { print $1 }')"
  newest="$(echo "$kept" | head -1)"
  stamp="${newest##*-}"
  if [[ "$stamp" =~ ^[0-9]+$ ]] && (($(date +%s) - stamp <= age)); then
    echo "Git cache up-to-date."
    return 0
  fi
  if [ -n "$newest" ]; then
    echo "Git cache outdated, refreshing..."
  else
    echo "No git cache... caching"
  fi
  (
    cd "$start" || exit 1
    echo "$kept" | tail -n "+$((keep + 1))" | while read -r old; do
      [ -z "$old" ] || cache delete "$old"
    done
    cache store "git-cache-$SEMAPHORE_JOB_ID-$(date +%s)" "$SEMAPHORE_GIT_DIR"
  )
}
