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
