"""Flask extensions created unbound, bound to an app in create_app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_socketio import SocketIO

socketio = SocketIO()
migrate = Migrate()
# Limits are per client address; behind nginx, PROXY_FIX_HOPS makes that the buyer's or bank's address.
limiter = Limiter(key_func=get_remote_address)
