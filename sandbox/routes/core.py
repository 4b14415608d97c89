"""Placeholder: routes for the 'core' group are being written."""

from flask import Blueprint

blueprint = Blueprint("core", __name__)
