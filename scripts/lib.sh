# Shared by scripts/demo and scripts/test.

# need_apt PKG:PROBE ... — install the Debian packages whose probe (a command on PATH, or a path
# that may be a glob such as /usr/lib/postgresql/*/bin/initdb: Debian keeps initdb off PATH) is
# missing; an empty probe means "install if python3 cannot make a venv" (python3-venv).
need_apt() {
  local missing=() spec pkg probe
  for spec in "$@"; do
    pkg=${spec%%:*}; probe=${spec#*:}
    if [ -z "$probe" ]; then
      python3 -c 'import ensurepip' 2>/dev/null || missing+=("$pkg")
    elif [ "${probe#/}" != "$probe" ]; then
      compgen -G "$probe" >/dev/null || missing+=("$pkg")
    else
      command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# make_venv SPEC — a virtual environment in ./.venv with floorwatch installed (editable), e.g.
# '.[hub,test]': plain floorwatch is the edge agent only, the hub and web UI are the [hub] extra.
make_venv() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e "$1" >&2
}
