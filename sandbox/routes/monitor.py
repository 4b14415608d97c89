"""Placeholder: routes for the 'monitor' group are being written."""

from flask import Blueprint

blueprint = Blueprint("monitor", __name__)
