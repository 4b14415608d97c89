"""Placeholder: routes for the 'admin' group are being written."""

from flask import Blueprint

blueprint = Blueprint("admin", __name__)
